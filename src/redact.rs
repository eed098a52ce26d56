//! Keeping secrets out of messages: URLs are shown without their passwords.

/// `url` with any password replaced by `***`: the one in its user info
/// (`postgres://user:***@host/db`) and the values of query parameters whose name mentions a
/// password, key, token or secret. Something that is not a URL but holds an `@` keeps only
/// what follows the last `@`. Use it wherever a URL may reach an error, a log or `Debug`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return match url.rfind('@') {
            Some(at) => format!("***{}", &url[at..]),
            None => url.to_string(),
        };
    };
    let start = scheme_end + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let authority = &url[start..end];
    let mut out = url[..start].to_string();
    match authority.rfind('@') {
        Some(at) => {
            match authority[..at].split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(&authority[..at]),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let rest = &url[end..];
    let Some((path, query)) = rest.split_once('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(path);
    out.push('?');
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}=***"),
            _ => pair.to_string(),
        })
        .collect();
    out.push_str(&pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "key", "token", "secret"]
        .iter()
        .any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_replaced_and_the_rest_kept() {
        assert_eq!(
            redact_url("postgres://alice:hunter2@db.example:5432/skills?sslmode=require"),
            "postgres://alice:***@db.example:5432/skills?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/skills?user=a&password=hunter2&sslpassword=x#f"),
            "postgres://db/skills?user=a&password=***&sslpassword=***#f"
        );
        assert_eq!(redact_url("http://u:p@w@h:1"), "http://u:***@h:1");
        assert_eq!(redact_url("https://qdrant:6334"), "https://qdrant:6334");
        assert_eq!(redact_url("sqlite:///data/x.db"), "sqlite:///data/x.db");
        assert_eq!(redact_url("alice:hunter2@db/skills"), "***@db/skills");
        assert_eq!(
            redact_url("http://user@h/?api_key=k1"),
            "http://user@h/?api_key=***"
        );
    }
}
