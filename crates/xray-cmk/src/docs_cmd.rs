//! `xray-cmk completions SHELL` and `xray-cmk man`: shell completions and man pages, both made
//! from the clap definitions the parser uses, so they cannot drift from the flags.

use std::path::Path;

use anyhow::{Context as _, Result};
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::Exit;

pub(crate) fn completions(args: &CompletionsArgs) -> Result<Exit> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "xray-cmk", &mut script);
    crate::out::write(&String::from_utf8(script).context("the completion script is not UTF-8")?);
    Ok(Exit::Clean)
}

/// The roff of one page.
fn page(cmd: clap::Command) -> Result<String> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut roff)
        .context("rendering the man page")?;
    String::from_utf8(roff).context("the man page is not UTF-8")
}

pub(crate) fn man(args: &ManArgs) -> Result<Exit> {
    let cmd = Cli::command();
    let Some(dir) = &args.out else {
        crate::out::write(&page(cmd)?);
        return Ok(Exit::Clean);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = vec![write(dir, "xray-cmk.1", &page(cmd.clone())?)?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("xray-cmk-{}", sub.get_name());
        // The page's title and its synopsis name the command as it is typed.
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("xray-cmk {}", sub.get_name()));
        written.push(write(dir, &format!("{name}.1"), &page(sub)?)?);
    }
    eprintln!("wrote {} man pages to {}", written.len(), dir.display());
    Ok(Exit::Clean)
}

fn write(dir: &Path, file: &str, text: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(file.to_owned())
}
