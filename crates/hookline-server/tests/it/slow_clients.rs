//! The slow-client probe: connections that send headers slowly, send a body
//! slowly, or sit idle are all closed by the server's time limits, and the
//! API keeps answering while they try.

use std::time::{Duration, Instant};

use hookline_server::ServeArgs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Backend, Options, TestServer};

/// Connections of each kind; more than the connection cap in all.
const PER_KIND: usize = 8;

/// Writes `bytes` one at a time, `gap` apart, until the server hangs up;
/// then answers how long the connection lived.
async fn trickle(mut stream: TcpStream, bytes: Vec<u8>, gap: Duration) -> Duration {
    let opened = Instant::now();
    for byte in bytes {
        if stream.write_all(&[byte]).await.is_err() {
            return opened.elapsed();
        }
        tokio::time::sleep(gap).await;
    }
    wait_for_close(stream, opened).await
}

/// Reads until the server closes the connection (bounded to 30 s).
async fn wait_for_close(mut stream: TcpStream, opened: Instant) -> Duration {
    let mut buf = [0u8; 4096];
    let deadline = opened + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return opened.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the server kept a slow connection open for 30 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_and_the_api_keeps_answering() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let options = Options {
            serve: ServeArgs {
                header_read_timeout: Some("500ms".into()),
                body_read_timeout: Some("1s".into()),
                idle_timeout: Some("2s".into()),
                max_connections: Some(16),
                ..Default::default()
            },
            ..Default::default()
        };
        let Some(s) = TestServer::start_with(backend, options).await else {
            continue;
        };
        let addr = s.base.trim_start_matches("http://").to_string();
        let mut probes = Vec::new();
        for _ in 0..PER_KIND {
            // Headers, one byte every 200 ms: never complete in time.
            let stream = TcpStream::connect(&addr).await.unwrap();
            let headers = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n\r\n".to_vec();
            probes.push(tokio::spawn(trickle(
                stream,
                headers,
                Duration::from_millis(200),
            )));
            // Complete headers, then a 1000-byte body one byte every 100 ms.
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            stream
                .write_all(
                    b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
                )
                .await
                .unwrap();
            probes.push(tokio::spawn(trickle(
                stream,
                vec![b' '; 1000],
                Duration::from_millis(100),
            )));
            // Connected, then silent.
            let stream = TcpStream::connect(&addr).await.unwrap();
            probes.push(tokio::spawn(wait_for_close(stream, Instant::now())));
        }
        // The API answers while the probes hold their connections.
        for _ in 0..5 {
            s.expect(200, "GET", "/health", None, None).await;
        }
        for probe in probes {
            let lived = probe.await.expect("probe task");
            assert!(lived < Duration::from_secs(30));
        }
        s.expect(200, "GET", "/health", None, None).await;
    }
}
