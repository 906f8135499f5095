//! `flowline`: see the library's documentation.

fn main() -> anyhow::Result<()> {
    flowline::main()
}
