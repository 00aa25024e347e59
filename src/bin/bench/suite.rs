//! `bench suite`: placeholder while the suite is written.
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> Result<()> {
    Ok(())
}
