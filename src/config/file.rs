//! Startup configuration, as redis-server reads it: `slotcache-server [/path/to/config]
//! [--directive value ...]`. The file uses redis.conf syntax (one directive per line, quoted
//! arguments, `#` comments, `include`); command-line options are applied after it, as if they
//! were lines appended to the file. Errors use Redis's "FATAL CONFIG FILE ERROR" shape.
use super::Config;
use crate::protocol::inline_args;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct StartupError {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}",
            self.line, self.text, self.reason
        )
    }
}

/// One directive: its line number in the combined text, the raw line and the split arguments.
struct Line {
    no: usize,
    text: String,
    args: Vec<String>,
}

fn split_lines(content: &str, first_no: usize) -> Result<Vec<Line>, StartupError> {
    let mut out = Vec::new();
    for (i, raw) in content.lines().enumerate() {
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let no = first_no + i;
        let args = inline_args(text.as_bytes()).map_err(|_| StartupError {
            line: no,
            text: text.to_string(),
            reason: "Unbalanced quotes in configuration line".into(),
        })?;
        let args: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args.is_empty() {
            out.push(Line {
                no,
                text: text.to_string(),
                args,
            });
        }
    }
    Ok(out)
}

fn apply(config: &mut Config, lines: Vec<Line>, depth: usize) -> Result<(), StartupError> {
    for l in lines {
        let name = l.args[0].to_ascii_lowercase();
        let err = |reason: String| StartupError {
            line: l.no,
            text: l.text.clone(),
            reason,
        };
        if name == "include" {
            if l.args.len() != 2 || depth > 16 {
                return Err(err("Bad directive or wrong number of arguments".into()));
            }
            let content = std::fs::read_to_string(&l.args[1]).map_err(|e| {
                err(format!(
                    "Fatal error, can't open config file '{}': {e}",
                    l.args[1]
                ))
            })?;
            apply(config, split_lines(&content, 1)?, depth + 1)?;
            continue;
        }
        if name == "replicaof" || name == "slaveof" {
            let port = l.args.get(2).and_then(|p| p.parse::<u16>().ok());
            match (l.args.len(), port) {
                (3, Some(port)) => {
                    config.replicaof = Some((l.args[1].clone(), port));
                    config
                        .values
                        .insert("replicaof", format!("{} {port}", l.args[1]));
                }
                _ => return Err(err("Invalid master port".into())),
            }
            continue;
        }
        if name == "user" {
            if l.args.len() < 2 {
                return Err(err("wrong number of arguments".into()));
            }
            config.users.push(l.args[1..].to_vec());
            continue;
        }
        if l.args.len() < 2 && !matches!(name.as_str(), "save" | "bind") {
            return Err(err("wrong number of arguments".into()));
        }
        let args: Vec<String> = if l.args.len() == 1 {
            vec![String::new()]
        } else {
            l.args[1..].to_vec()
        };
        config.set(&name, &args).map_err(err)?;
    }
    Ok(())
}

/// Builds the startup configuration from redis-server-style arguments (without argv[0]).
pub fn from_args(args: &[String]) -> Result<Config, StartupError> {
    let mut config = Config::default();
    let mut rest = args;
    let mut text = String::new();
    if let Some(first) = args.first() {
        if !first.starts_with("--") {
            let content = if first == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).ok();
                s
            } else {
                let path = Path::new(first);
                let content = std::fs::read_to_string(path).map_err(|e| StartupError {
                    line: 0,
                    text: first.clone(),
                    reason: format!("Fatal error, can't open config file '{first}': {e}"),
                })?;
                config.file =
                    Some(std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(first)));
                content
            };
            text = content;
            rest = &args[1..];
        }
    }
    let file_lines = text.lines().count();
    let mut lines = split_lines(&text, 1)?;
    // Command-line options continue the file: "--port 7000 --save '' " become lines.
    let mut no = file_lines;
    let mut current: Option<Line> = None;
    for a in rest {
        if let Some(name) = a.strip_prefix("--") {
            if let Some(l) = current.take() {
                lines.push(l);
            }
            no += 1;
            current = Some(Line {
                no,
                text: name.to_string(),
                args: vec![name.to_string()],
            });
        } else if let Some(l) = current.as_mut() {
            l.text.push(' ');
            l.text.push_str(a);
            l.args.push(a.clone());
        } else {
            return Err(StartupError {
                line: no,
                text: a.clone(),
                reason: "Bad directive or wrong number of arguments".into(),
            });
        }
    }
    lines.extend(current);
    apply(&mut config, lines, 0)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn command_line_like_redis_server() {
        let c = from_args(&s(&["--port", "7000", "--save", "", "--maxmemory", "10mb"])).unwrap();
        assert_eq!(c.hot.port, 7000);
        assert_eq!(c.get("save"), Some(""));
        assert_eq!(c.hot.maxmemory, 10 << 20);
    }

    #[test]
    fn file_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        std::fs::write(&inc, "maxmemory-policy allkeys-lru\n").unwrap();
        let path = dir.path().join("a.conf");
        std::fs::write(
            &path,
            format!(
                "# comment\nport 7001\ninclude {}\nbind \"127.0.0.1\"\n",
                inc.display()
            ),
        )
        .unwrap();
        let c = from_args(&s(&[path.to_str().unwrap(), "--hz", "20"])).unwrap();
        assert_eq!(c.hot.port, 7001);
        assert_eq!(c.hot.hz, 20);
        assert_eq!(c.get("maxmemory-policy"), Some("allkeys-lru"));
        std::fs::write(&path, "port 7001\nfoo bar\n").unwrap();
        let e = from_args(&s(&[path.to_str().unwrap()])).unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.text, "foo bar");
        assert!(e
            .to_string()
            .contains("Bad directive or wrong number of arguments"));
    }
}
