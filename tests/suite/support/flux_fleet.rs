//! A fleet repository laid out like Flux's image-update guide (fluxcd.io "Automate image
//! updates to Git"): `clusters/my-cluster/flux-system/` from bootstrap, the podinfo Deployment
//! with a `$imagepolicy` marker, and the ImageRepository, ImagePolicy and ImageUpdateAutomation
//! objects beside it, on a real bare remote, with the image's tags in a real registry.

use std::path::PathBuf;

use super::baton::Run;
use super::config::ConfigBuilder;
use super::git_server::{BRANCH, Writer, git, write};
use super::world::World;

/// The Deployment whose image line carries the marker.
pub const DEPLOYMENT: &str = "clusters/my-cluster/podinfo-deployment.yaml";
/// The ImageRepository object.
pub const REGISTRY_OBJECT: &str = "clusters/my-cluster/podinfo-registry.yaml";
/// The ImagePolicy object.
pub const POLICY_OBJECT: &str = "clusters/my-cluster/podinfo-policy.yaml";
/// The ImageUpdateAutomation object.
pub const AUTOMATION_OBJECT: &str = "clusters/my-cluster/flux-system-automation.yaml";
/// The podinfo tags pushed at the start: `5.0.x` chooses 5.0.3.
pub const PODINFO_TAGS: &[&str] = &["5.0.0", "5.0.1", "5.0.3", "5.1.0", "6.0.0"];

/// A world whose remote holds the guide's layout.
pub struct FluxFleet {
    /// The registry, the remote and the directory.
    pub world: World,
    /// The commit that added the image automation objects.
    pub seeded: String,
    writer: Writer,
}

impl std::ops::Deref for FluxFleet {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl FluxFleet {
    /// Pushes podinfo's tags and commits the guide's files as a person would.
    pub async fn start() -> FluxFleet {
        let world = World::start();
        for tag in PODINFO_TAGS {
            world.registry.push_image("stefanprodan/podinfo", tag).await;
        }
        let writer = world.remote.writer();
        let image = format!("{}/stefanprodan/podinfo", world.host());
        for (path, text) in guide_files(&image) {
            write(&writer.work.join(path), &text);
        }
        git(&writer.work, &["add", "-A"]);
        git(
            &writer.work,
            &["commit", "--quiet", "-m", "Add podinfo image automation"],
        );
        git(&writer.work, &["push", "--quiet", "origin", BRANCH]);
        let seeded = git(&writer.work, &["rev-parse", "HEAD"]);
        FluxFleet {
            world,
            seeded,
            writer,
        }
    }

    /// `HOST/stefanprodan/podinfo`.
    pub fn image(&self) -> String {
        format!("{}/stefanprodan/podinfo", self.host())
    }

    /// The host configuration: the remote over file://, `[git] rules = RULES`.
    pub fn config(&self, rules: &str) -> ConfigBuilder {
        self.world
            .config(&self.remote.file_url())
            .text_value("git", "rules", rules)
    }

    /// Writes the host configuration with `extra` TOML at the end.
    pub fn write_config(&self, rules: &str, extra: &str) -> PathBuf {
        self.config(rules).raw(extra).write()
    }

    /// Commits `content` to `path` as another person and pushes; returns the commit.
    pub fn commit(&self, path: &str, content: &str, message: &str) -> String {
        self.writer.commit_and_push(path, content, message)
    }

    /// Replaces `path` with a symbolic link to `target` as another person, pushes; returns the
    /// commit.
    pub fn commit_symlink(&self, path: &str, target: &str, message: &str) -> String {
        let work = &self.writer.work;
        git(work, &["pull", "--quiet", "--ff-only", "origin", BRANCH]);
        let _ = std::fs::remove_file(work.join(path));
        std::os::unix::fs::symlink(target, work.join(path)).unwrap();
        git(work, &["add", "-A"]);
        git(work, &["commit", "--quiet", "-m", message]);
        git(work, &["push", "--quiet", "origin", BRANCH]);
        git(work, &["rev-parse", "HEAD"])
    }

    /// `baton once` to the end.
    pub fn once(&self) -> Run {
        self.world.baton(&["once"]).run()
    }

    /// The remote branch's head.
    pub fn head(&self) -> String {
        self.remote.head(BRANCH).unwrap()
    }

    /// The full message of `commit` on the remote.
    pub fn message(&self, commit: &str) -> String {
        git(&self.remote.path, &["log", "-1", "--format=%B", commit])
    }

    /// A file at `commit` on the remote.
    pub fn show(&self, commit: &str, path: &str) -> String {
        git(&self.remote.path, &["show", &format!("{commit}:{path}")])
    }

    /// `git diff --stat`-like list of the files `commit` changed, and its changed lines.
    pub fn diff(&self, commit: &str) -> String {
        git(
            &self.remote.path,
            &[
                "diff",
                "--unified=0",
                "--no-color",
                &format!("{commit}~1"),
                commit,
            ],
        )
    }
}

/// The ImagePolicy of the guide with `range`.
pub fn policy_object(range: &str) -> String {
    format!(
        "apiVersion: image.toolkit.fluxcd.io/v1beta2\n\
         kind: ImagePolicy\n\
         metadata:\n  name: podinfo\n  namespace: flux-system\n\
         spec:\n  imageRepositoryRef:\n    name: podinfo\n  policy:\n    semver:\n      range: {range}\n"
    )
}

/// The guide's files for the image `image` (`flux create ... --export` output, trimmed).
fn guide_files(image: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "clusters/my-cluster/flux-system/gotk-components.yaml",
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n".to_string(),
        ),
        (
            "clusters/my-cluster/flux-system/gotk-sync.yaml",
            "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m0s\n  ref:\n    branch: main\n  secretRef:\n    name: flux-system\n  url: ssh://git@github.com/example/fleet-infra\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m0s\n  path: ./clusters/my-cluster\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n".to_string(),
        ),
        (
            "clusters/my-cluster/flux-system/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n".to_string(),
        ),
        (
            DEPLOYMENT,
            format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n  namespace: default\nspec:\n  selector:\n    matchLabels:\n      app: podinfo\n  template:\n    metadata:\n      labels:\n        app: podinfo\n    spec:\n      containers:\n      - name: podinfod\n        image: {image}:5.0.0 # {{\"$imagepolicy\": \"flux-system:podinfo\"}}\n        readinessProbe:\n          httpGet:\n            path: /readyz\n            port: 9898\n"
            ),
        ),
        (
            REGISTRY_OBJECT,
            format!(
                "---\napiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata:\n  name: podinfo\n  namespace: flux-system\nspec:\n  image: {image}\n  interval: 1m0s\n  insecure: true\n"
            ),
        ),
        (POLICY_OBJECT, policy_object("5.0.x")),
        (
            AUTOMATION_OBJECT,
            "---\napiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageUpdateAutomation\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  git:\n    checkout:\n      ref:\n        branch: main\n    commit:\n      author:\n        email: fluxcdbot@users.noreply.github.com\n        name: fluxcdbot\n      messageTemplate: '{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}'\n    push:\n      branch: main\n  interval: 1m0s\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  update:\n    path: ./clusters/my-cluster\n    strategy: Setters\n".to_string(),
        ),
    ]
}
