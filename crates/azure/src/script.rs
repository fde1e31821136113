//! One script, two shells: a list of steps (variables, `az` calls, checks) rendered
//! as bash and as PowerShell, so `deploy.sh` and `deploy.ps1` cannot drift apart.
//!
//! Values are quoted here and nowhere else: literals in single quotes (`'\''` in
//! bash, `''` in PowerShell), variables in double quotes in bash (one word each)
//! and bare in PowerShell (which never splits a variable).

use std::fmt::Write;

/// A value of an `az` argument.
#[derive(Debug, Clone)]
pub enum Val {
    /// Written as is, quoted.
    Lit(String),
    /// Several words, each written as is and quoted (`--zone 1 2 3`).
    Words(Vec<String>),
    /// A script variable (defined in the table at the top, or captured).
    Var(String),
    /// An environment variable read when the script runs.
    Env(String),
    /// A file next to the script (relative path, `/`-separated).
    Here(String),
}

/// One `az` invocation.
#[derive(Debug, Clone)]
pub struct Az {
    /// The command path, like `network vnet create`.
    pub command: &'static str,
    /// `--flag value` pairs, in order; a flag with no value is written alone.
    pub args: Vec<(&'static str, Option<Val>)>,
    /// Store the output in this variable instead of discarding it.
    pub capture: Option<String>,
    /// Run only as a `show` of the resource says: a create only when it fails (the
    /// script converges when run again after a complete or interrupted run, and
    /// never asks Azure to create what exists: some creates refuse, others PUT the
    /// whole resource again), a delete only when it succeeds.
    pub guard: Option<Guard>,
}

/// A check that decides whether an [`Az`] call runs.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The check: a `show` of the resource, its output discarded.
    pub check: Box<Az>,
    /// Run the call when the check succeeds (a delete), or when it fails (a create).
    pub when_found: bool,
}

impl Az {
    /// A call with no arguments yet.
    pub fn new(command: &'static str) -> Az {
        Az {
            command,
            args: Vec::new(),
            capture: None,
            guard: None,
        }
    }

    /// Runs this call only when `exists` (a `show`) fails: a create.
    pub fn unless(mut self, exists: Az) -> Az {
        self.guard = Some(Guard {
            check: Box::new(exists),
            when_found: false,
        });
        self
    }

    /// Runs this call only when `exists` (a `show`) succeeds: a delete.
    pub fn only_if(mut self, exists: Az) -> Az {
        self.guard = Some(Guard {
            check: Box::new(exists),
            when_found: true,
        });
        self
    }

    /// Adds `--flag 'literal'`.
    pub fn lit(mut self, flag: &'static str, value: impl ToString) -> Az {
        self.args.push((flag, Some(Val::Lit(value.to_string()))));
        self
    }

    /// Adds `--flag "$VAR"`.
    pub fn var(mut self, flag: &'static str, var: impl Into<String>) -> Az {
        self.args.push((flag, Some(Val::Var(var.into()))));
        self
    }

    /// Adds any value.
    pub fn val(mut self, flag: &'static str, val: Val) -> Az {
        self.args.push((flag, Some(val)));
        self
    }

    /// Adds a flag without a value.
    pub fn flag(mut self, flag: &'static str) -> Az {
        self.args.push((flag, None));
        self
    }

    /// Captures the output (`--output tsv`) in `var`.
    pub fn capture(mut self, var: impl Into<String>) -> Az {
        self.capture = Some(var.into());
        self
    }
}

/// A step of a script.
#[derive(Debug, Clone)]
pub enum Step {
    /// A comment line shown before what follows, and printed as progress.
    Section(String),
    /// An `az` call.
    Az(Az),
    /// The same action written for each shell.
    Raw {
        /// bash.
        bash: String,
        /// PowerShell.
        ps: String,
    },
}

/// A variable of the table at the top of the script.
#[derive(Debug, Clone)]
pub struct Var {
    /// Its name (upper case, the same in both shells).
    pub name: String,
    /// The value in bash (already quoted).
    pub bash: String,
    /// The value in PowerShell (already quoted).
    pub ps: String,
}

impl Var {
    /// A literal value.
    pub fn lit(name: impl Into<String>, value: impl ToString) -> Var {
        let v = value.to_string();
        Var {
            name: name.into(),
            bash: sh_quote(&v),
            ps: ps_quote(&v),
        }
    }

    /// A path in the home directory of whoever runs the script.
    pub fn home(name: impl Into<String>, rest: &str) -> Var {
        Var {
            name: name.into(),
            // The config's checks keep quotes, `$`, backquotes and backslashes out.
            bash: format!("\"${{HOME}}/{rest}\""),
            ps: format!("Join-Path $HOME {}", ps_quote(rest)),
        }
    }
}

/// A whole script.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The comment at the top: what the script does.
    pub header: Vec<String>,
    /// PowerShell's `param(...)` block, if any.
    pub ps_param: Option<String>,
    /// The table of variables.
    pub vars: Vec<Var>,
    /// What it does, in order.
    pub steps: Vec<Step>,
}

/// Quotes for bash: bare when safe, else in single quotes.
pub fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Quotes for PowerShell: always in single quotes.
pub fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn bash_val(v: &Val) -> String {
    match v {
        Val::Lit(s) => sh_quote(s),
        Val::Words(w) => w.iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" "),
        Val::Var(n) | Val::Env(n) => format!("\"${n}\""),
        Val::Here(p) => format!("\"$HERE/{p}\""),
    }
}

fn ps_val(v: &Val) -> String {
    match v {
        Val::Lit(s) => ps_quote(s),
        Val::Words(w) => w.iter().map(|w| ps_quote(w)).collect::<Vec<_>>().join(" "),
        Val::Var(n) => format!("${n}"),
        Val::Env(n) => format!("$env:{n}"),
        Val::Here(p) => format!("\"$HERE/{p}\""),
    }
}

fn az_lines(az: &Az, val: fn(&Val) -> String) -> Vec<String> {
    let mut lines = vec![format!("az {}", az.command)];
    for (flag, v) in &az.args {
        lines.push(match v {
            Some(v) => format!("{flag} {}", val(v)),
            None => flag.to_string(),
        });
    }
    if az.capture.is_some() {
        lines.push("--output tsv".into());
    } else {
        lines.push("--output none".into());
    }
    lines
}

/// Names the script uses, so the table holds no unused variable.
fn used(script: &Script, name: &str) -> bool {
    let dollar = format!("${name}");
    let braced = format!("${{{name}}}");
    script.steps.iter().any(|s| match s {
        Step::Section(_) => false,
        Step::Az(az) => az
            .args
            .iter()
            .chain(az.guard.iter().flat_map(|g| g.check.args.iter()))
            .any(|(_, v)| matches!(v, Some(Val::Var(n)) if n == name)),
        Step::Raw { bash, .. } => {
            bash.contains(&braced)
                || bash.match_indices(&dollar).any(|(i, _)| {
                    !bash[i + dollar.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                })
        }
    })
}

impl Script {
    fn uses_here(&self) -> bool {
        self.steps.iter().any(|s| match s {
            Step::Az(az) => az.args.iter().any(|(_, v)| matches!(v, Some(Val::Here(_)))),
            Step::Raw { bash, .. } => bash.contains("$HERE"),
            Step::Section(_) => false,
        })
    }

    /// The bash version (`set -euo pipefail`).
    pub fn bash(&self) -> String {
        let mut s = String::from("#!/usr/bin/env bash\n");
        for h in &self.header {
            let _ = writeln!(s, "{}", format!("# {h}").trim_end());
        }
        s.push_str("set -euo pipefail\n\n");
        if self.uses_here() {
            s.push_str("HERE=\"$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\"\n");
        }
        for v in self.vars.iter().filter(|v| used(self, &v.name)) {
            let _ = writeln!(s, "{}={}", v.name, v.bash);
        }
        s.push_str("\nstep() { printf '\\n==> %s\\n' \"$*\" >&2; }\n");
        for step in &self.steps {
            match step {
                Step::Section(t) => {
                    let _ = write!(s, "\nstep {}\n", sh_quote(t));
                }
                Step::Az(az) => {
                    let lines = az_lines(az, bash_val);
                    match &az.guard {
                        Some(g) => {
                            let check = az_lines(&g.check, bash_val).join(" \\\n  ");
                            let body = lines.join(" \\\n    ");
                            let not = if g.when_found { "" } else { "! " };
                            let _ = writeln!(s, "if {not}{check} 2>/dev/null; then\n  {body}\nfi");
                        }
                        None => {
                            let body = lines.join(" \\\n  ");
                            match &az.capture {
                                Some(v) => {
                                    let _ = writeln!(s, "{v}=\"$({body})\"");
                                }
                                None => {
                                    let _ = writeln!(s, "{body}");
                                }
                            }
                        }
                    }
                }
                Step::Raw { bash, .. } => {
                    let _ = writeln!(s, "{}", bash.trim_end());
                }
            }
        }
        s
    }

    /// The PowerShell version (stops at the first failing `az`).
    pub fn powershell(&self) -> String {
        let mut s = String::new();
        for h in &self.header {
            let _ = writeln!(s, "{}", format!("# {h}").trim_end());
        }
        if let Some(p) = &self.ps_param {
            let _ = writeln!(s, "{p}");
        }
        s.push_str(
            "Set-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n\n$HERE = $PSScriptRoot\n",
        );
        for v in self.vars.iter().filter(|v| used(self, &v.name)) {
            let _ = writeln!(s, "${} = {}", v.name, v.ps);
        }
        s.push_str(concat!(
            "\nfunction Step([string]$What) { Write-Host \"`n==> $What\" }\n",
            "function Assert-Az([string]$What) {\n",
            "    if ($LASTEXITCODE -ne 0) { throw \"az $What failed (exit code $LASTEXITCODE)\" }\n",
            "}\n",
        ));
        for step in &self.steps {
            match step {
                Step::Section(t) => {
                    let _ = write!(s, "\nStep {}\n", ps_quote(t));
                }
                Step::Az(az) => match &az.guard {
                    Some(g) => {
                        // Windows PowerShell 5.1 turns a native command's stderr into
                        // a terminating error under 'Stop' once it is redirected: the
                        // check runs under 'Continue', and only its exit code counts.
                        let check = az_lines(&g.check, ps_val).join(" `\n  ");
                        let body = az_lines(az, ps_val).join(" `\n    ");
                        let not = if g.when_found { "" } else { "-not " };
                        let _ = writeln!(
                            s,
                            "$ErrorActionPreference = 'Continue'\n{check} 2>$null\n$Exists = $LASTEXITCODE -eq 0\n$ErrorActionPreference = 'Stop'\nif ({not}$Exists) {{\n    {body}\n    Assert-Az {}\n}}",
                            ps_quote(az.command)
                        );
                    }
                    None => {
                        let body = az_lines(az, ps_val).join(" `\n  ");
                        match &az.capture {
                            Some(v) => {
                                let _ = writeln!(s, "${v} = {body}");
                            }
                            None => {
                                let _ = writeln!(s, "{body}");
                            }
                        }
                        let _ = writeln!(s, "Assert-Az {}", ps_quote(az.command));
                    }
                },
                Step::Raw { ps, .. } => {
                    let _ = writeln!(s, "{}", ps.trim_end());
                }
            }
        }
        s
    }
}
