//! `sqlx::migrate!` embeds the migrations at compile time; this makes cargo rebuild the crate
//! when a migration is added or changed, which stable Rust would not notice on its own.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
