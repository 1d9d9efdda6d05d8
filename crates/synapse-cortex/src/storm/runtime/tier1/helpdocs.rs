//! The Storm library and type documentation `help` prints (`help $lib.str`, `help str`,
//! `help $node`, `help --verbose $lib.inet.http.get`), rendered as the reference's runtime
//! help. The docs are the reference's (2.256), kept gzipped in `data/stormdocs-2.256.json.gz`
//! (written by `data/gen_stormdocs.py`); they are inflated and parsed on each use and dropped
//! afterwards, so a server holds only the embedded 60 KB unless a `help` is running.

use std::io::Read;

use serde_json::{Map, Value as Json};

const STORMDOCS_GZ: &[u8] = include_bytes!("../../../../data/stormdocs-2.256.json.gz");

/// The parsed documentation of one `help` call.
pub(super) struct Docs(Json);

/// What a bound method or function documents.
pub(super) enum Owner<'a> {
    /// A library function (`$lib.str.join`): the library path (`lib.str`).
    Lib(&'a str),
    /// A method of a Storm type (`$s.upper`): the type name (`str`).
    Type(&'a str),
}

impl Docs {
    /// Parse the embedded documentation (`None` if it does not parse, which the tests rule out).
    pub(super) fn load() -> Option<Docs> {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(STORMDOCS_GZ)
            .read_to_end(&mut text)
            .ok()?;
        serde_json::from_slice(&text).ok().map(Docs)
    }

    fn section(&self, kind: &str, name: &str) -> Option<&Map<String, Json>> {
        self.0.get(kind)?.get(name)?.as_object()
    }

    /// Whether `name` is a documented Storm type.
    pub(super) fn is_type(&self, name: &str) -> bool {
        self.section("types", name).is_some()
    }

    /// Whether `path` is a documented library or has documented libraries below it.
    pub(super) fn is_lib_path(&self, path: &str) -> bool {
        self.section("libs", path).is_some() || !self.child_libs(path).is_empty()
    }

    /// `help [--verbose] $lib.x`: the library's description, its child libraries and its
    /// members. A library path without docs of its own (`lib.compression`) lists only its
    /// children.
    pub(super) fn lib_help(&self, path: &str, verbose: bool) -> Vec<String> {
        let preamble = self.child_libs(path);
        match self.section("libs", path) {
            Some(lib) => {
                let mut page = Vec::new();
                render(
                    &mut page,
                    &Target::whole(path, lib, true),
                    !verbose,
                    &preamble,
                );
                page
            }
            None => preamble,
        }
    }

    /// `help [--verbose] str`: a Storm type's description and members.
    pub(super) fn type_help(&self, name: &str, verbose: bool) -> Vec<String> {
        let Some(typ) = self.section("types", name) else {
            return Vec::new();
        };
        let mut page = Vec::new();
        render(&mut page, &Target::whole(name, typ, false), !verbose, &[]);
        page
    }

    /// `help [--verbose] $lib.str.join` / `help $s.upper`: one member of a library or type.
    /// With `by_impl` (methods implemented natively) the members sharing the implementation
    /// are documented together; Storm-defined library functions (`$lib.gen.*`) match by name.
    /// `None` when the owner has no docs at all; an empty member list when it has no such
    /// member (the reference then warns and prints the bare header).
    pub(super) fn method_help(
        &self,
        owner: &Owner<'_>,
        name: &str,
        verbose: bool,
        by_impl: bool,
    ) -> Option<(Vec<String>, bool)> {
        let (sect, islib) = match owner {
            Owner::Lib(path) => (self.section("libs", path)?, true),
            Owner::Type(typ) => (self.section("types", typ)?, false),
        };
        let sname = match owner {
            Owner::Lib(path) | Owner::Type(path) => *path,
        };
        let locals = members(sect);
        // Members sharing the implementing function are documented together.
        let group = locals
            .iter()
            .find(|l| by_impl && str_at(l, "n") == name)
            .and_then(|l| l.get("t").and_then(|t| t.get("p")).and_then(Json::as_str));
        let chosen: Vec<&Map<String, Json>> = locals
            .iter()
            .copied()
            .filter(|l| match group {
                Some(p) => l.get("t").and_then(|t| t.get("p")).and_then(Json::as_str) == Some(p),
                None => str_at(l, "n") == name,
            })
            .collect();
        let found = !chosen.is_empty();
        let target = Target {
            sname,
            desc: str_at(sect, "d"),
            depr: sect.get("x"),
            locals: chosen,
            islib,
            header: !islib,
        };
        let mut page = Vec::new();
        render(&mut page, &target, !verbose, &[]);
        Some((page, found))
    }

    /// The `The following libraries are available:` block of the libraries below `path`.
    fn child_libs(&self, path: &str) -> Vec<String> {
        let Some(libs) = self.0.get("libs").and_then(Json::as_object) else {
            return Vec::new();
        };
        let prefix = format!("{path}.");
        let mut kids: Vec<(&String, &str)> = libs
            .iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .map(|(name, lib)| {
                (
                    name,
                    lib.get("b").and_then(Json::as_str).unwrap_or_default(),
                )
            })
            .collect();
        if kids.is_empty() {
            return Vec::new();
        }
        // by path elements, as tuples sort
        kids.sort_by(|a, b| a.0.split('.').cmp(b.0.split('.')));
        let mut out = vec![
            "The following libraries are available:".to_owned(),
            String::new(),
        ];
        for (name, brief) in kids {
            out.push(format!("{:<30}: {brief}", format!("${name}")));
        }
        out.push(String::new());
        out
    }
}

/// One member's docs.
type Local = Map<String, Json>;

/// What one rendering covers.
struct Target<'a> {
    /// The dotted path (`lib.str`) or type name.
    sname: &'a str,
    desc: &'a str,
    /// The library's deprecation, shown on each member in verbose mode.
    depr: Option<&'a Json>,
    locals: Vec<&'a Map<String, Json>>,
    islib: bool,
    /// Print the title and description first.
    header: bool,
}

impl<'a> Target<'a> {
    fn whole(sname: &'a str, sect: &'a Map<String, Json>, islib: bool) -> Self {
        Target {
            sname,
            desc: str_at(sect, "d"),
            depr: sect.get("x"),
            locals: members(sect),
            islib,
            header: true,
        }
    }
}

fn members(sect: &Map<String, Json>) -> Vec<&Map<String, Json>> {
    sect.get("l")
        .and_then(Json::as_array)
        .map(|l| l.iter().filter_map(Json::as_object).collect())
        .unwrap_or_default()
}

fn str_at<'a>(map: &'a Map<String, Json>, key: &str) -> &'a str {
    map.get(key).and_then(Json::as_str).unwrap_or_default()
}

fn flag(typ: &Json, key: &str) -> bool {
    typ.get(key).is_some_and(|v| v.as_i64() == Some(1))
}

/// A title underlined (and for the top levels overlined) as in reStructuredText.
fn heading(page: &mut Vec<String>, name: &str, lvl: usize, blank_before: bool) {
    let (ch, over) = [
        ('#', true),
        ('*', true),
        ('=', false),
        ('-', false),
        ('^', false),
    ][lvl.min(4)];
    let rule: String = std::iter::repeat_n(ch, name.chars().count()).collect();
    if blank_before {
        page.push(String::new());
    }
    if over {
        page.push(rule.clone());
    }
    page.push(name.to_owned());
    page.push(rule);
}

/// A description's lines: leading blank lines dropped, every line shifted left by the first
/// line's indentation.
fn desc_lines(desc: &str) -> Vec<String> {
    let mut lines: Vec<&str> = desc.split('\n').skip_while(|l| l.is_empty()).collect();
    if lines.is_empty() {
        lines.push("");
    }
    let indent = lines[0].chars().count() - lines[0].trim_start().chars().count();
    lines
        .iter()
        .map(|l| l.chars().skip(indent).collect())
        .collect()
}

/// `a, b, c` of a type name or list of names.
fn type_names(typ: &Json) -> Option<Result<String, String>> {
    match typ {
        Json::String(s) => Some(Ok(s.clone())),
        Json::Array(items) => Some(Err(items
            .iter()
            .map(|v| v.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(", "))),
        _ => None,
    }
}

fn deprecation(page: &mut Vec<String>, name: &str, depr: &Json) {
    page.push("Warning:".to_owned());
    match depr
        .get("eoldate")
        .and_then(Json::as_str)
        .filter(|d| !d.is_empty())
    {
        Some(date) => page.push(format!(
            "``{name}`` has been deprecated and will be removed on or after {date}."
        )),
        None => {
            let vers = depr.get("eolvers").and_then(Json::as_str).unwrap_or("None");
            page.push(format!(
                "``{name}`` has been deprecated and will be removed in version {vers}."
            ));
        }
    }
    if let Some(mesg) = depr
        .get("mesg")
        .and_then(Json::as_str)
        .filter(|m| !m.is_empty())
    {
        page.push(mesg.to_owned());
    }
    page.push("\n".to_owned());
}

fn arg_lines(page: &mut Vec<String>, typ: &Json) {
    let Some(args) = typ
        .get("a")
        .and_then(Json::as_array)
        .filter(|a| !a.is_empty())
    else {
        return;
    };
    page.push("Args:".to_owned());
    for arg in args {
        let name = arg.get("n").and_then(Json::as_str).unwrap_or_default();
        let desc = arg.get("d").and_then(Json::as_str).unwrap_or_default();
        page.push(match arg.get("t").and_then(type_names) {
            Some(Ok(t)) => format!("    {name} ({t}): {desc}"),
            Some(Err(ts)) => {
                format!("    {name}: {desc} The input type may one one of the following: {ts}.")
            }
            None => format!("    {name}: {desc}"),
        });
    }
}

fn return_lines(page: &mut Vec<String>, typ: &Json, isstor: bool) {
    page.push(String::new());
    if let Some(names) = type_names(typ) {
        page.push("Returns:".to_owned());
        page.push(match names {
            Ok(t) => format!("    The type is {t}."),
            Err(ts) => format!("    The type may be one of the following: {ts}."),
        });
    } else if let Some(rets) = typ.get("r") {
        let name = rets.get("n").and_then(Json::as_str).unwrap_or("Returns");
        page.push(format!("{name}:"));
        let mut line = "   ".to_owned();
        if let Some(desc) = rets.get("d").and_then(Json::as_str) {
            line.push(' ');
            line.push_str(desc);
        }
        match rets.get("t").and_then(type_names) {
            Some(Ok(t)) => line.push_str(&format!(" The return type is {t}.")),
            Some(Err(ts)) => line.push_str(&format!(
                " The return type may be one of the following: {ts}."
            )),
            None => {}
        }
        page.push(line);
    }
    if isstor {
        page.push(
            "    When this is used to set the value, it does not have a return type.".to_owned(),
        );
    }
}

/// `(a, b=(null), c=text, d=(3))`
fn call_sig(typ: &Json) -> String {
    let items: Vec<String> = typ
        .get("a")
        .and_then(Json::as_array)
        .map(|args| {
            args.iter()
                .map(|arg| {
                    let name = arg.get("n").and_then(Json::as_str).unwrap_or_default();
                    match arg.get("v") {
                        None => name.to_owned(),
                        Some(Json::Null) => format!("{name}=(null)"),
                        Some(Json::Bool(b)) => format!("{name}=({b})"),
                        Some(Json::String(s)) => format!("{name}={s}"),
                        Some(other) => format!("{name}=({other})"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    format!("({})", items.join(", "))
}

fn render(page: &mut Vec<String>, target: &Target<'_>, oneline: bool, preamble: &[String]) {
    let sname = target.sname;
    if target.header {
        let title = if target.islib {
            format!("${sname}")
        } else {
            sname.to_owned()
        };
        heading(page, &title, 1, false);
        page.extend(desc_lines(target.desc));
    }
    page.extend(preamble.iter().cloned());
    let isfunc = |l: &Map<String, Json>| l.get("t").is_some_and(|t| flag(t, "f"));
    let (funcs, refs): (Vec<&Local>, Vec<&Local>) =
        target.locals.iter().copied().partition(|l| isfunc(l));
    let several = target.locals.len() > 1;
    let member = |page: &mut Vec<String>, local: &Map<String, Json>| {
        let name = str_at(local, "n");
        let typ = local.get("t").unwrap_or(&Json::Null);
        let mut lines = Vec::new();
        if !oneline && let Some(depr) = local.get("x").or(target.depr) {
            deprecation(&mut lines, &format!("${sname}.{name}"), depr);
        }
        lines.extend(desc_lines(str_at(local, "d")));
        let mut header = name.to_owned();
        if typ.is_object() {
            arg_lines(&mut lines, typ);
            return_lines(&mut lines, typ, flag(typ, "s"));
            if flag(typ, "f") {
                header.push_str(&call_sig(typ));
            }
        } else {
            return_lines(&mut lines, typ, false);
        }
        if target.islib {
            header = format!("${sname}.{header}");
        }
        if oneline {
            page.push(header);
            page.push(lines.swap_remove(0));
            page.push(String::new());
        } else {
            heading(page, &header, 2, true);
            page.extend(lines);
        }
    };
    if !funcs.is_empty() {
        if several {
            page.push("The following functions are available:".to_owned());
            page.push(String::new());
        }
        for local in funcs {
            member(page, local);
        }
    }
    if !refs.is_empty() {
        if several {
            page.push(String::new());
            page.push("The following references are available:".to_owned());
            page.push(String::new());
        }
        for local in refs {
            member(page, local);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_parse_and_cover_the_base_library() {
        let docs = Docs::load().expect("stormdocs parse");
        assert!(docs.is_type("str") && docs.is_type("node") && !docs.is_type("nope"));
        let page = docs.lib_help("lib.str", false);
        assert_eq!(
            page[..4],
            [
                "********",
                "$lib.str",
                "********",
                "A Storm Library for interacting with strings."
            ]
        );
        assert!(page.contains(&"$lib.str.join(sepr, items)".to_owned()));
    }

    #[test]
    fn descriptions_are_dedented_after_leading_blank_lines() {
        assert_eq!(desc_lines("\n\n    a\n      b\n  c"), ["a", "  b", ""]);
    }
}
