//! What the integration tests share: the fixture ([`world::World`]: a real registry, a real
//! remote, a configuration builder and the one way to run `baton`), the scenarios seeded on
//! it, the real servers (Debian's `docker-registry`, git's daemon, http-backend, sshd) and the
//! fakes for what a real server cannot be made to do.

pub mod baton;
pub mod browser;
pub mod check_server;
pub mod config;
pub mod cosign;
pub mod daemon;
pub mod fake_forge;
pub mod fake_registry;
pub mod fleet;
pub mod flux_fleet;
pub mod git_server;
pub mod inbox;
pub mod prism;
pub mod promotion;
pub mod registry;
pub mod reliability;
pub mod world;
