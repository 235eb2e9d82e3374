// Embeds the SQL of sql/ in the library: the object files of sql/schema/ (in the order of
// their names, which is the order they build in) and the forward migrations of
// sql/migrations/. `ls sql/` is the list; nothing else names the files.
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=sql");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut out = String::new();
    for (constant, folder) in [("SCHEMA", "schema"), ("MIGRATIONS", "migrations")] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(folder))
            .unwrap_or_else(|e| panic!("reading sql/{folder}: {e}"))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        writeln!(out, "pub const {constant}: &[(&str, &str)] = &[").expect("write");
        for path in files {
            let name = path.file_stem().expect("a file name").to_string_lossy();
            writeln!(out, "    ({name:?}, include_str!({:?})),", path.display()).expect("write");
        }
        writeln!(out, "];").expect("write");
    }
    let target = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("sql.rs");
    std::fs::write(target, out).expect("writing sql.rs");
}
