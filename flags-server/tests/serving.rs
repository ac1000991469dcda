//! Serving: flags and metadata over HTTP, 404 for everything else, and a
//! flag directory that never lets a file outside it out.

mod common;

use std::fs;

use common::{client, raw_get, raw_request, start};
use flags_server::{FlagServer, ServerConfig, builtin_flag, builtin_metadata};

/// A flag and its metadata come back with the right type, length and bytes.
#[test]
fn serves_flag_and_metadata() {
    let server = start(ServerConfig::default());
    let client = client();

    let response = client
        .get(format!("{}/br/br.gif", server.base_url()))
        .send()
        .expect("GET flag");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "image/gif");
    let expected = builtin_flag("br").expect("built in");
    assert_eq!(
        response.headers()["content-length"],
        expected.len().to_string().as_str()
    );
    assert_eq!(response.bytes().expect("body").as_ref(), expected);

    let response = client
        .get(format!("{}/br/metadata.json", server.base_url()))
        .send()
        .expect("GET metadata");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.text().expect("text"),
        builtin_metadata("br").expect("built in")
    );
}

/// Unknown codes, other paths, mismatched names and other methods get 404.
#[test]
fn not_found_for_anything_else() {
    let server = start(ServerConfig::default());
    for path in [
        "/flags/zz/zz.gif",
        "/flags/br/us.gif",
        "/flags/BR/BR.gif",
        "/flags/br/br.png",
        "/flags/br/",
        "/flags/",
        "/flags",
        "/",
        "/favicon.ico",
        "/br/br.gif",
        "/flags/br/br.gif/extra",
    ] {
        let response = raw_get(server.addr(), path).expect("an answer");
        assert_eq!(response.status, 404, "{path}");
    }
    let response = raw_request(server.addr(), "POST", "/flags/br/br.gif").expect("an answer");
    assert_eq!(response.status, 404);
}

/// One keep-alive connection carries several requests.
#[test]
fn keeps_connections_alive() {
    let server = start(ServerConfig::default());
    let client = client();
    for code in ["br", "cn", "jp"] {
        let response = client
            .get(format!("{}/{code}/{code}.gif", server.base_url()))
            .send()
            .expect("GET flag");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.bytes().expect("body").as_ref(),
            builtin_flag(code).expect("built in")
        );
    }
    let stats = server.stats();
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.connections, 1);
}

/// `--dir` serves the directory's files and nothing outside it: not through
/// `..`, not through `%2e%2e`, not through a symbolic link that leaves it.
#[test]
fn directory_serves_inside_files_only() {
    let outside = tempfile::tempdir().expect("temp dir");
    let secret_dir = outside.path().join("secret");
    fs::create_dir(&secret_dir).expect("mkdir");
    fs::write(secret_dir.join("secret.gif"), b"SECRET").expect("write");
    fs::write(secret_dir.join("xx.gif"), b"SECRET").expect("write");

    let root = outside.path().join("flags");
    fs::create_dir_all(root.join("br")).expect("mkdir");
    fs::write(root.join("br").join("br.gif"), b"GIF89a-brazil").expect("write");
    fs::write(
        root.join("br").join("metadata.json"),
        b"{\"country\": \"Brazil\"}",
    )
    .expect("write");
    #[cfg(unix)]
    {
        // A link leaving the directory, and one staying inside it.
        std::os::unix::fs::symlink(&secret_dir, root.join("xx")).expect("symlink");
        fs::create_dir(root.join("yy")).expect("mkdir");
        std::os::unix::fs::symlink(
            root.join("br").join("br.gif"),
            root.join("yy").join("yy.gif"),
        )
        .expect("symlink");
    }

    let config = ServerConfig {
        dir: Some(root.clone()),
        ..ServerConfig::default()
    };
    let server = start(config);
    let addr = server.addr();

    let flag = raw_get(addr, "/flags/br/br.gif").expect("answer");
    assert_eq!(
        (flag.status, flag.body.as_slice()),
        (200, &b"GIF89a-brazil"[..])
    );
    assert_eq!(flag.header("content-type"), Some("image/gif"));
    let metadata = raw_get(addr, "/flags/br/metadata.json").expect("answer");
    assert_eq!(
        (metadata.status, metadata.body.as_slice()),
        (200, &b"{\"country\": \"Brazil\"}"[..])
    );
    assert_eq!(metadata.header("content-type"), Some("application/json"));
    assert_eq!(
        raw_get(addr, "/flags/cn/cn.gif").expect("answer").status,
        404
    );

    for escape in [
        "/flags/../secret/secret.gif",
        "/flags/br/../../secret/secret.gif",
        "/flags/%2e%2e/secret/secret.gif",
        "/flags/%2E%2E/%2E%2E.gif",
        "/flags/br/..%2f..%2fsecret%2fsecret.gif",
        "/flags//etc/passwd",
        "/flags/xx/xx.gif",
    ] {
        let response = raw_get(addr, escape).expect("answer");
        assert_eq!(
            (response.status, response.body.as_slice()),
            (404, &b"404 Not Found\n"[..]),
            "{escape}"
        );
    }
    #[cfg(unix)]
    {
        let inside = raw_get(addr, "/flags/yy/yy.gif").expect("answer");
        assert_eq!(
            (inside.status, inside.body.as_slice()),
            (200, &b"GIF89a-brazil"[..])
        );
        assert_eq!(server.flag_count(), 2);
    }
}

/// The files of `--dir` are kept in memory once read, but a request always
/// gets what the directory holds now: a file rewritten (another size, or
/// the same size in a new file renamed over it) is read again, a file
/// removed is a 404, and a file swapped for a link that leaves the
/// directory is a 404, never the old bytes nor the outside file.
#[cfg(unix)]
#[test]
fn directory_files_are_read_again_when_they_change() {
    let outside = tempfile::tempdir().expect("temp dir");
    fs::write(outside.path().join("secret.gif"), b"SECRET").expect("write");
    let root = outside.path().join("flags");
    fs::create_dir_all(root.join("br")).expect("mkdir");
    let flag = root.join("br").join("br.gif");
    fs::write(&flag, b"GIF89a-one").expect("write");
    let config = ServerConfig {
        dir: Some(root.clone()),
        ..ServerConfig::default()
    };
    let server = start(config);
    let addr = server.addr();
    let body = || {
        let response = raw_get(addr, "/flags/br/br.gif").expect("answer");
        (
            response.status,
            String::from_utf8_lossy(&response.body).into_owned(),
        )
    };
    // Read once, then from memory: the same bytes.
    assert_eq!(body(), (200, "GIF89a-one".to_string()));
    assert_eq!(body(), (200, "GIF89a-one".to_string()));
    // Rewritten in place with another size.
    fs::write(&flag, b"GIF89a-second").expect("write");
    assert_eq!(body(), (200, "GIF89a-second".to_string()));
    // The same size, in a new file renamed over the old one (a new inode).
    let replacement = root.join("br").join("new.tmp");
    fs::write(&replacement, b"GIF89a-SECOND").expect("write");
    fs::rename(&replacement, &flag).expect("rename");
    assert_eq!(body(), (200, "GIF89a-SECOND".to_string()));
    // Removed.
    fs::remove_file(&flag).expect("remove");
    assert_eq!(body().0, 404);
    // A link that leaves the directory, where the flag was.
    std::os::unix::fs::symlink(outside.path().join("secret.gif"), &flag).expect("symlink");
    assert_eq!(body(), (404, "404 Not Found\n".to_string()));
    // Back again.
    fs::remove_file(&flag).expect("remove");
    fs::write(&flag, b"GIF89a-one").expect("write");
    assert_eq!(body(), (200, "GIF89a-one".to_string()));
}

/// A directory that does not exist is refused at start, naming it.
#[test]
fn missing_directory_is_an_error() {
    let config = ServerConfig {
        dir: Some("/no/such/flag/dir".into()),
        ..ServerConfig::default()
    };
    let error = FlagServer::start(config).expect_err("no such directory");
    assert!(error.to_string().contains("/no/such/flag/dir"), "{error}");
}
