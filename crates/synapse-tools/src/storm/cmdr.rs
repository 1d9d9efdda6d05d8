//! The Cmdr of the Storm CLI: local commands (`!help`, `!quit`, ...) registered by name, each
//! with its documentation and argument parsing, and the reference's `cmdrargs` splitting of a
//! command line (quoted strings kept with their quotes, `{ query }` as the query's text).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a command returns: whether it succeeded (`false` makes a one-shot run exit 1).
pub(crate) type CmdFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<bool>> + 'a>>;

/// A local (`!`) command of a CLI over `C`.
pub(crate) trait Cmd<C>: Send + Sync {
    /// The name, e.g. `!quit`.
    fn name(&self) -> &'static str;
    /// The documentation; its first line is the brief shown by help.
    fn doc(&self) -> &'static str;
    /// Run with the arguments after the name.
    fn run<'a>(&'a self, cli: &'a mut C, argv: Vec<String>) -> CmdFuture<'a>;
}

/// The first line of a command's documentation.
pub(crate) fn brief(doc: &str) -> &str {
    doc.trim().lines().next().unwrap_or_default()
}

/// A registry of commands.
pub(crate) struct Cmdr<C> {
    cmds: Vec<Arc<dyn Cmd<C>>>,
}

impl<C> Cmdr<C> {
    pub(crate) fn new() -> Self {
        Cmdr { cmds: Vec::new() }
    }

    /// Add (or replace) a command.
    pub(crate) fn add(&mut self, cmd: Arc<dyn Cmd<C>>) {
        self.cmds.retain(|c| c.name() != cmd.name());
        self.cmds.push(cmd);
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<dyn Cmd<C>>> {
        self.cmds.iter().find(|c| c.name() == name).cloned()
    }

    /// Command names, sorted.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.cmds.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names
    }

    /// The help text: every command with its brief, or the docs of the named ones.
    pub(crate) fn help(&self, names: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        if names.is_empty() {
            let names = self.names();
            let pad = names.iter().map(|n| n.len()).max().unwrap_or(0);
            for name in names {
                if let Some(cmd) = self.get(name) {
                    out.push(format!("{name:<pad$} - {}", brief(cmd.doc())));
                }
            }
            return out;
        }
        for name in names {
            match self.get(name) {
                Some(cmd) => {
                    out.push(format!("=== {name}"));
                    out.push(cmd.doc().to_owned());
                }
                None => out.push(format!("=== NOT FOUND: {name}")),
            }
        }
        out
    }
}

/// An argument splitting error (an unterminated quote or brace).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SplitError(pub(crate) String);

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SplitError {}

/// Split a command line as the reference's `Parser(text).cmdrargs()`: words separated by
/// whitespace; `'...'` and `"..."` strings kept with their quotes; `{ query }` given as the
/// query's text; `--opt=value` and `--opt={ query }` joined.
pub(crate) fn split_args(text: &str) -> Result<Vec<String>, SplitError> {
    let chars: Vec<char> = text.chars().collect();
    let mut argv: Vec<String> = Vec::new();
    let mut idx = 0;
    let mut join_next = false;
    while idx < chars.len() {
        if chars[idx].is_whitespace() {
            idx += 1;
            join_next = false;
            continue;
        }
        let (arg, next) = match chars[idx] {
            '{' => {
                let mut depth = 0usize;
                let mut end = idx;
                let mut quote: Option<char> = None;
                while end < chars.len() {
                    let ch = chars[end];
                    match quote {
                        Some(q) if ch == '\\' && q == '"' => end += 1,
                        Some(q) if ch == q => quote = None,
                        Some(_) => {}
                        None if ch == '"' || ch == '\'' => quote = Some(ch),
                        None if ch == '{' => depth += 1,
                        None if ch == '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        None => {}
                    }
                    end += 1;
                }
                if end >= chars.len() {
                    return Err(SplitError("Unterminated { in the command line".into()));
                }
                let inner: String = chars[idx + 1..end].iter().collect();
                (inner.trim().to_owned(), end + 1)
            }
            q @ ('"' | '\'') => {
                let mut end = idx + 1;
                while end < chars.len() && chars[end] != q {
                    if q == '"' && chars[end] == '\\' {
                        end += 1;
                    }
                    end += 1;
                }
                if end >= chars.len() {
                    return Err(SplitError(format!("Unterminated {q} in the command line")));
                }
                (chars[idx..=end].iter().collect(), end + 1)
            }
            _ => {
                let mut end = idx;
                while end < chars.len() && !chars[end].is_whitespace() && chars[end] != '=' {
                    end += 1;
                }
                if end < chars.len() && chars[end] == '=' && end > idx {
                    let word: String = chars[idx..=end].iter().collect();
                    argv.push(word);
                    idx = end + 1;
                    join_next = true;
                    continue;
                }
                if end == idx {
                    // a lone '='
                    end += 1;
                }
                (chars[idx..end].iter().collect(), end)
            }
        };
        match argv.last_mut() {
            Some(last) if join_next => last.push_str(&arg),
            _ => argv.push(arg),
        }
        join_next = false;
        idx = next;
    }
    Ok(argv)
}

/// The value of a string argument as the reference's argparse sees it: quotes removed.
pub(crate) fn unquote(arg: &str) -> String {
    let quoted = |q: char| arg.len() >= 2 && arg.starts_with(q) && arg.ends_with(q);
    if quoted('\'') {
        return arg[1..arg.len() - 1].to_owned();
    }
    if quoted('"') {
        return arg[1..arg.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\");
    }
    arg.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_as_cmdrargs() {
        let split = |t: &str| split_args(t).unwrap();
        assert_eq!(split("!quit"), vec!["!quit"]);
        assert_eq!(
            split("!export dnsa.nodes { inet:fqdn#mynodes -> inet:dns:a }"),
            vec!["!export", "dnsa.nodes", "inet:fqdn#mynodes -> inet:dns:a"]
        );
        assert_eq!(
            split("!export x.nodes { inet:fqdn } --include-tags foo bar"),
            vec![
                "!export",
                "x.nodes",
                "inet:fqdn",
                "--include-tags",
                "foo",
                "bar"
            ]
        );
        assert_eq!(
            split("!runfile '/tmp/a b.storm'"),
            vec!["!runfile", "'/tmp/a b.storm'"]
        );
        assert_eq!(
            split("a --x=1 --q={ #foo }"),
            vec!["a", "--x=1", "--q=#foo"]
        );
        assert_eq!(split(r#"a "x \"y\" z""#), vec!["a", r#""x \"y\" z""#]);
        assert_eq!(split("{ [inet:fqdn='}'] }"), vec!["[inet:fqdn='}']"]);
        assert!(split_args("a { b").is_err());
        assert!(split_args("a 'b").is_err());
        assert_eq!(unquote("'a b'"), "a b");
        assert_eq!(unquote(r#""a \"b\"""#), "a \"b\"");
        assert_eq!(unquote("plain"), "plain");
    }

    struct Nop;

    impl Cmd<()> for Nop {
        fn name(&self) -> &'static str {
            "!nop"
        }
        fn doc(&self) -> &'static str {
            "\n    Do nothing.\n\n    Example:\n\n        !nop\n    "
        }
        fn run<'a>(&'a self, _cli: &'a mut (), _argv: Vec<String>) -> CmdFuture<'a> {
            Box::pin(async { Ok(true) })
        }
    }

    #[test]
    fn help_lists_and_documents() {
        let mut cmdr: Cmdr<()> = Cmdr::new();
        cmdr.add(Arc::new(Nop));
        assert_eq!(cmdr.help(&[]), vec!["!nop - Do nothing."]);
        assert_eq!(
            cmdr.help(&["!nop".into(), "nop".into()]),
            vec![
                "=== !nop".to_string(),
                "\n    Do nothing.\n\n    Example:\n\n        !nop\n    ".to_string(),
                "=== NOT FOUND: nop".to_string(),
            ]
        );
    }
}
