//! Telepath URLs: `tcp://`, `ssl://`, `unix://`, `cell://`, parsed as the reference's
//! `chopurl` does.

use std::path::PathBuf;

use crate::error::Error;

/// The default telepath TCP port.
pub const DEFAULT_PORT: u16 = 27492;

/// A parsed URL: `scheme://[user[:passwd]@]host[:port][/path][?k=v&...]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UrlInfo {
    /// Lowercased scheme.
    pub scheme: String,
    /// Percent-decoded user.
    pub user: Option<String>,
    /// Percent-decoded password.
    pub passwd: Option<String>,
    /// Host (IPv6 without brackets).
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// Everything from the first `/` after the host (including it).
    pub path: String,
    /// Query parameters in order (not percent-decoded, as the reference); a key without `=`
    /// has no value.
    pub query: Vec<(String, Option<String>)>,
}

impl UrlInfo {
    /// Parse a URL.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let Some((scheme, remain)) = url.split_once("://") else {
            return Err(Error::BadUrl(format!(":// not found in [{url}]!")));
        };
        let mut info = UrlInfo {
            scheme: scheme.to_ascii_lowercase(),
            ..UrlInfo::default()
        };
        let mut remain = remain;
        if let Some((rest, query)) = remain.split_once('?') {
            remain = rest;
            for part in query.split('&') {
                match part.split_once('=') {
                    Some((key, val)) => info.query.push((key.to_owned(), Some(val.to_owned()))),
                    None => info.query.push((part.to_owned(), None)),
                }
            }
        }
        if let Some(slash) = remain.find('/') {
            info.path = remain[slash..].to_owned();
            remain = &remain[..slash];
        }
        if let Some((userinfo, rest)) = remain.rsplit_once('@') {
            remain = rest;
            match userinfo.split_once(':') {
                Some((user, passwd)) => {
                    info.user = Some(percent_decode(user));
                    info.passwd = Some(percent_decode(passwd));
                }
                None => info.user = Some(percent_decode(userinfo)),
            }
        }
        let parse_port = |text: &str| {
            text.parse::<u16>()
                .map_err(|_| Error::BadUrl(format!("invalid port in [{url}]")))
        };
        if remain.starts_with('[') {
            let Some((host, port)) = remain.rsplit_once(':') else {
                return Err(Error::BadUrl(format!("invalid IPv6 address in [{url}]")));
            };
            info.port = Some(parse_port(port)?);
            info.host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
        } else if remain.matches(':').count() > 1 {
            info.host = remain.to_owned();
        } else if let Some((host, port)) = remain.split_once(':') {
            info.host = host.to_owned();
            info.port = Some(parse_port(port)?);
        } else {
            info.host = remain.to_owned();
        }
        Ok(info)
    }

    /// A query parameter (the last one of that name); `Some(None)` for a key without `=`.
    pub fn query(&self, key: &str) -> Option<Option<&str>> {
        self.query
            .iter()
            .rev()
            .find(|(have, _)| have == key)
            .map(|(_, val)| val.as_deref())
    }

    /// A query parameter's value, if present with one.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.query(key).flatten()
    }

    /// The host to use: the `host=` query parameter overrides the URL's, as in the reference.
    pub fn effective_host(&self) -> &str {
        self.opt("host").unwrap_or(&self.host)
    }

    /// The port to use (default [`DEFAULT_PORT`]).
    pub fn effective_port(&self) -> Result<u16, Error> {
        match self.opt("port") {
            Some(port) => port
                .parse()
                .map_err(|_| Error::BadUrl(format!("invalid port {port}"))),
            None => Ok(self.port.unwrap_or(DEFAULT_PORT)),
        }
    }

    /// The share name sent in `tele:syn`: the path without its leading `/` for tcp and ssl
    /// (`""` for none), the text after the first `:` of the path for unix and cell (default
    /// `"*"`); a `name=` query parameter wins.
    pub fn share_name(&self) -> String {
        if let Some(name) = self.opt("name") {
            return name.to_owned();
        }
        match self.scheme.as_str() {
            "unix" | "cell" => match self.path.split_once(':') {
                Some((_, name)) => name.to_owned(),
                None => "*".to_owned(),
            },
            _ => self.path.strip_prefix('/').unwrap_or(&self.path).to_owned(),
        }
    }

    /// The UNIX socket path of a `unix://` URL (the path before any `:name`), or `<dirn>/sock`
    /// of a `cell://` URL (`cell:///abs/dirn` or `cell://rel/dirn`).
    pub fn socket_path(&self) -> Result<PathBuf, Error> {
        let path = match self.path.split_once(':') {
            Some((path, _)) => path,
            None => &self.path,
        };
        match self.scheme.as_str() {
            "unix" => Ok(PathBuf::from(path)),
            "cell" => {
                let dirn = if self.host.is_empty() {
                    PathBuf::from(path)
                } else {
                    PathBuf::from(&self.host).join(path.trim_matches('/'))
                };
                Ok(dirn.join("sock"))
            }
            other => Err(Error::BadUrl(format!("no socket path for scheme {other}"))),
        }
    }

    /// The URL with the password replaced by `****` (for logs).
    pub fn sanitized(&self) -> String {
        let mut out = format!("{}://", self.scheme);
        if let Some(user) = &self.user {
            out.push_str(user);
            if self.passwd.is_some() {
                out.push_str(":****");
            }
            out.push('@');
        }
        if self.host.contains(':') && self.port.is_some() {
            out.push_str(&format!("[{}]", self.host));
        } else {
            out.push_str(&self.host);
        }
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        out.push_str(&self.path);
        if !self.query.is_empty() {
            let parts: Vec<String> = self
                .query
                .iter()
                .map(|(key, val)| match val {
                    Some(val) => format!("{key}={val}"),
                    None => key.clone(),
                })
                .collect();
            out.push('?');
            out.push_str(&parts.join("&"));
        }
        out
    }
}

/// `urllib.parse.unquote`: `%XX` escapes decoded as UTF-8 (invalid sequences replaced);
/// malformed escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'%' && idx + 2 < bytes.len() {
            let digits = (hex_digit(bytes[idx + 1]), hex_digit(bytes[idx + 2]));
            if let (Some(high), Some(low)) = digits {
                out.push(high << 4 | low);
                idx += 3;
                continue;
            }
        }
        out.push(bytes[idx]);
        idx += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|digit| digit as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_urls() {
        let info =
            UrlInfo::parse("TCP://root:se%40cr%3At@127.0.0.1:27492/cortex?timeout=3&x").unwrap();
        assert_eq!(info.scheme, "tcp");
        assert_eq!(info.user.as_deref(), Some("root"));
        assert_eq!(info.passwd.as_deref(), Some("se@cr:t"));
        assert_eq!(info.host, "127.0.0.1");
        assert_eq!(info.port, Some(27492));
        assert_eq!(info.path, "/cortex");
        assert_eq!(info.share_name(), "cortex");
        assert_eq!(info.opt("timeout"), Some("3"));
        assert_eq!(info.query("x"), Some(None));
        assert_eq!(
            info.sanitized(),
            "tcp://root:****@127.0.0.1:27492/cortex?timeout=3&x"
        );

        let info = UrlInfo::parse("tcp://host").unwrap();
        assert_eq!(info.share_name(), "");
        assert_eq!(info.effective_port().unwrap(), DEFAULT_PORT);

        let info = UrlInfo::parse("tcp://host/a/b?name=other").unwrap();
        assert_eq!(info.share_name(), "other");

        // The last @ splits user info from the host.
        let info = UrlInfo::parse("tcp://a@b:c@host:1/").unwrap();
        assert_eq!(info.user.as_deref(), Some("a@b"));
        assert_eq!(info.passwd.as_deref(), Some("c"));
    }

    #[test]
    fn ipv6_urls() {
        let info = UrlInfo::parse("ssl://[::1]:443/x").unwrap();
        assert_eq!(info.host, "::1");
        assert_eq!(info.port, Some(443));
        let info = UrlInfo::parse("tcp://fe80::1").unwrap();
        assert_eq!(info.host, "fe80::1");
        assert_eq!(info.port, None);
    }

    #[test]
    fn unix_and_cell_urls() {
        let info = UrlInfo::parse("unix:///tmp/x/sock:axon").unwrap();
        assert_eq!(info.socket_path().unwrap(), PathBuf::from("/tmp/x/sock"));
        assert_eq!(info.share_name(), "axon");
        let info = UrlInfo::parse("unix:///tmp/x/sock").unwrap();
        assert_eq!(info.share_name(), "*");
        let info = UrlInfo::parse("cell:///var/cells/axon00").unwrap();
        assert_eq!(
            info.socket_path().unwrap(),
            PathBuf::from("/var/cells/axon00/sock")
        );
        let info = UrlInfo::parse("cell://rel/dirn:name").unwrap();
        assert_eq!(info.socket_path().unwrap(), PathBuf::from("rel/dirn/sock"));
        assert_eq!(info.share_name(), "name");
    }

    #[test]
    fn bad_urls() {
        assert!(matches!(UrlInfo::parse("nourl"), Err(Error::BadUrl(_))));
        assert!(matches!(
            UrlInfo::parse("tcp://h:notaport"),
            Err(Error::BadUrl(_))
        ));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("a%20b"), "a b");
    }
}
