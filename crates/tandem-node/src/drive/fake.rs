//! A fake host with a virtual clock, for tests without root: inputs are
//! scripted with their arrival time, the clock jumps to the next input or
//! deadline, and every output is recorded with the time it was carried
//! out. Set-up always succeeds (unless told to fail) with made-up sockets
//! and interface indices. Files are a map of path to text: written at once
//! (unless told to fail), read from there (`config apply`). The sync
//! connection's outputs are only recorded: a test moves their bytes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use tandem_time::Instant;

use super::{step, DriveError, Host};
use crate::node::{ConfigFile, Input, InstanceHost, Node, Output, SetUpDone, SetUpError};

/// See the [module documentation](self).
#[derive(Debug, Default)]
pub struct FakeHost {
    now: Instant,
    script: VecDeque<Input>,
    pending: VecDeque<Input>,
    /// Every output, with when it was carried out.
    pub outputs: Vec<(Instant, Output)>,
    /// The address each instance (by name) advertises from; 192.0.2.1 if
    /// absent.
    pub primaries: HashMap<String, IpAddr>,
    /// Links reported down at set-up.
    pub links_down: Vec<String>,
    /// Fail every set-up with this reason.
    pub fail_setup: Option<String>,
    /// The files, by path: what `WriteFile` wrote, what `ReadConfig` reads.
    pub files: BTreeMap<PathBuf, String>,
    /// Fail every file write with this reason.
    pub fail_writes: Option<String>,
    /// The running configuration file (`config apply` writes there).
    pub config_path: Option<PathBuf>,
    sockets: Vec<String>,
    idle: bool,
}

impl FakeHost {
    /// A host at time zero with nothing scripted.
    pub fn new() -> FakeHost {
        FakeHost::default()
    }

    /// Scripts `input` to arrive at its `at()` (kept in time order).
    pub fn push(&mut self, input: Input) {
        let at = input.at();
        let pos = self
            .script
            .iter()
            .position(|i| i.at() > at)
            .unwrap_or(self.script.len());
        self.script.insert(pos, input);
        self.idle = false;
    }

    /// The socket index set-up gave `interface`.
    pub fn socket_of(&self, interface: &str) -> Option<usize> {
        self.sockets.iter().position(|s| s == interface)
    }

    /// Outputs recorded since index `from`, without status publishes.
    pub fn outputs_since(&self, from: usize) -> Vec<&Output> {
        self.outputs[from.min(self.outputs.len())..]
            .iter()
            .map(|(_, o)| o)
            .filter(|o| !matches!(o, Output::PublishStatus(_)))
            .collect()
    }

    /// Runs the loop until the clock reaches `until`, the node stops, or
    /// nothing is left to happen.
    pub fn run_until(&mut self, node: &mut Node, until: Instant) -> Result<(), DriveError> {
        let mut inputs = Vec::new();
        while self.now < until && !self.idle {
            let wake = node.poll_timeout();
            if wake.is_none_or(|w| w > until)
                && self.pending.is_empty()
                && self.script.front().is_none_or(|i| i.at() > until)
            {
                self.now = until;
                break;
            }
            if !step(node, self, &mut inputs)? {
                break;
            }
        }
        Ok(())
    }

    /// The configuration at `from` in [`FakeHost::files`], for the running
    /// file `target`, with its sync key and state texts from there too, as
    /// a real host reads them.
    pub fn config_file(&self, target: &Path, from: &Path) -> Result<ConfigFile, String> {
        let text = self
            .files
            .get(from)
            .cloned()
            .ok_or_else(|| format!("cannot read {}: no such file", from.display()))?;
        let config = crate::config::parse(&text).map_err(|e| e.to_string())?;
        let sync_key = config.global.sync.as_ref().map(|s| {
            self.files
                .get(&s.key_file)
                .cloned()
                .ok_or_else(|| "cannot read it: no such file".to_string())
        });
        let state = crate::node::sync::state_path(&config.global);
        Ok(ConfigFile {
            path: target.to_path_buf(),
            sync_state: Ok(self.files.get(&state).cloned()),
            text,
            config,
            write: target != from,
            sync_key,
        })
    }

    fn set_up(&mut self, plan: &crate::node::Plan) -> Result<SetUpDone, SetUpError> {
        if let Some(e) = &self.fail_setup {
            return Err(SetUpError(e.clone()));
        }
        let mut hosts = Vec::new();
        for (n, cfg) in plan.starting().enumerate() {
            let socket = match self.socket_of(&cfg.interface) {
                Some(s) => s,
                None => {
                    self.sockets.push(cfg.interface.clone());
                    self.sockets.len() - 1
                }
            };
            let primary = self
                .primaries
                .get(&cfg.name)
                .copied()
                .or(cfg.source)
                .unwrap_or(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
            hosts.push(InstanceHost {
                socket,
                ifindex: socket as u32 + 1,
                announce_interface: cfg.interface.clone(),
                mac: [0x02, 0, 0, 0, 0, n as u8],
                macvlan: None,
                primary,
                carp_counter: 0x0102_0304_0506_0708,
            });
        }
        Ok(SetUpDone {
            hosts,
            links_down: self.links_down.clone(),
        })
    }
}

impl Host for FakeHost {
    fn now(&mut self) -> Instant {
        self.now
    }

    fn wait(&mut self, deadline: Option<Instant>, inputs: &mut Vec<Input>) {
        if !self.pending.is_empty() {
            inputs.extend(self.pending.drain(..));
            return;
        }
        match (self.script.front().map(Input::at), deadline) {
            (Some(t), d) if d.is_none_or(|d| t <= d) => {
                self.now = self.now.max(t);
                while self.script.front().is_some_and(|i| i.at() <= self.now) {
                    inputs.extend(self.script.pop_front());
                }
            }
            (_, Some(d)) => self.now = self.now.max(d),
            (_, None) => self.idle = true,
        }
    }

    fn carry_out(&mut self, output: Output) -> Result<bool, DriveError> {
        let go_on = !matches!(output, Output::Stopped);
        if let Output::SetUp(plan) = &output {
            let result = self.set_up(plan);
            if plan.initial {
                if let Err(e) = &result {
                    return Err(DriveError::SetUp(e.0.clone()));
                }
            }
            self.pending.push_back(Input::SetUp {
                at: self.now,
                plan: plan.clone(),
                result,
            });
        }
        match &output {
            Output::WriteFile {
                path, text, token, ..
            } => {
                let result = match &self.fail_writes {
                    Some(e) => Err(e.clone()),
                    None => {
                        self.files.insert(path.clone(), text.clone());
                        Ok(())
                    }
                };
                self.pending.push_back(Input::Written {
                    at: self.now,
                    token: *token,
                    result,
                });
            }
            Output::ReadConfig { path, reply } => {
                let target = self.config_path.clone().unwrap_or_else(|| path.clone());
                let file = self.config_file(&target, path).map(Box::new);
                self.pending.push_back(Input::ConfigureFile {
                    at: self.now,
                    file,
                    reply: Some(*reply),
                    wait_partner: true,
                });
            }
            _ => {}
        }
        self.outputs.push((self.now, output));
        Ok(go_on)
    }
}
