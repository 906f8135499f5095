//! The `flowline` program, built inside the test package so that the black-box suite can run it
//! as a child process (Cargo gives integration tests the path of their own package's binaries).

fn main() -> anyhow::Result<()> {
    flowline::main()
}
