// The migrations in sql/ are embedded in the library; a new file there must rebuild it.
fn main() {
    println!("cargo:rerun-if-changed=sql");
}
