//! The real binary as a child process: output collected, readiness by the
//! banner's URL and a JSON-RPC answer, SIGKILL on drop.

use crate::settle::wait_for;
use alloy::providers::{Provider, ProviderBuilder};
use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

/// A child process killed (SIGKILL) on drop, its stdout and stderr collected.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProcess {
    /// Starts `cmd` (its stdout and stderr are taken over).
    pub fn spawn(mut cmd: Command) -> eyre::Result<Self> {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut o = out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        Ok(Self { child, out })
    }

    /// Everything it printed so far.
    pub fn text(&self) -> String {
        self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The value after `label` on a line of the banner, once printed.
    pub async fn banner(&self, label: &str) -> eyre::Result<String> {
        wait_for(&format!("{label} in the banner"), Duration::from_secs(120), async || {
            Ok(self.text().lines().find_map(|l| {
                l.strip_prefix(label).map(|v| v.split_whitespace().next().unwrap_or("").to_string())
            }))
        })
        .await
        .map_err(|e| eyre::eyre!("{e}; output so far:\n{}", self.text()))
    }

    /// The node's RPC URL (the banner's, so any port it bound), once it answers
    /// `eth_chainId` with `chain_id`.
    pub async fn rpc_url(&self, chain_id: u64) -> eyre::Result<String> {
        let url = self.banner("RPC URL:").await?;
        ready(&url, chain_id).await?;
        Ok(url)
    }

    /// Kills it (SIGKILL) and waits for it.
    pub fn kill(mut self) -> eyre::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// Waits until the JSON-RPC server at `url` answers `eth_chainId` with
/// `chain_id` (a wrong id fails at once: another server holds the address).
pub async fn ready(url: &str, chain_id: u64) -> eyre::Result<()> {
    let provider = ProviderBuilder::new().connect_http(url.parse()?);
    wait_for(&format!("{url} to answer eth_chainId"), Duration::from_secs(60), async || {
        Ok(match provider.get_chain_id().await {
            Ok(id) if id == chain_id => Some(()),
            Ok(id) => eyre::bail!("{url} answers chain id {id}, not {chain_id}"),
            Err(_) => None,
        })
    })
    .await
}
