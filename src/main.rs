fn main() {
    println!("baton {}", env!("CARGO_PKG_VERSION"));
}
