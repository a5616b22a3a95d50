//! Copy-as-curl: an attempt's request as one POSIX shell command that sends
//! the same method, URL, headers and body again. Every argument is
//! single-quoted, so nothing in a header or the body is expanded.

/// Headers curl sets itself from what it sends.
const CURL_SETS: [&str; 2] = ["content-length", "host"];

/// The command, one argument per line. A URL with user info keeps it (masked
/// as shown, for the reader to fill in) and leaves out the `Authorization`
/// header made from it.
pub(crate) fn command(url: &str, headers: &[(String, String)], body: &str) -> String {
    let auth_in_url = url::Url::parse(url).is_ok_and(|u| !u.username().is_empty());
    let mut lines = vec![format!("curl -X POST {}", quote(url))];
    for (name, value) in headers {
        let name_lower = name.to_ascii_lowercase();
        if CURL_SETS.contains(&name_lower.as_str())
            || (auth_in_url && name_lower == "authorization")
        {
            continue;
        }
        lines.push(format!("-H {}", quote(&format!("{name}: {value}"))));
    }
    lines.push(format!("--data-raw {}", quote(body)));
    lines.join(" \\\n  ")
}

/// `text` as one single-quoted shell word: a `'` inside closes the quote,
/// adds an escaped quote and opens a new one.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_survive_the_shell() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME `x` \"y\""), "'$HOME `x` \"y\"'");
    }

    #[test]
    fn leaves_out_what_curl_sets() {
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("content-length".to_string(), "2".to_string()),
            ("authorization".to_string(), "Basic ****".to_string()),
        ];
        let with_auth = command("https://u:****@example.com/h", &headers, "{}");
        assert!(!with_auth.contains("content-length") && !with_auth.contains("authorization"));
        assert!(with_auth.starts_with(
            "curl -X POST 'https://u:****@example.com/h' \\\n  -H 'content-type: application/json'"
        ));
        assert!(with_auth.ends_with("--data-raw '{}'"));
        let plain = command("https://example.com/h", &headers, "{}");
        assert!(plain.contains("-H 'authorization: Basic ****'"));
    }
}
