//! Rebuild when the starter library changes: `include_dir!` embeds `skills/`, and stable
//! rustc cannot tell it which files it read.
fn main() {
    println!("cargo:rerun-if-changed=skills");
}
