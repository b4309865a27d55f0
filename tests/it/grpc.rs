//! tonic over a Unix socket with no glue: the listener is a `Stream` of
//! `UnixStream`, and `UnixConnector` (which is `UnixAddr::connect`) is a
//! tonic connector.
#![cfg(feature = "hyper")]

use safe_unix_listener::SafeUnixListener;
use safe_unix_listener::http::UnixConnector;
use tonic::transport::{Endpoint, Server};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as Status;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn the_grpc_health_check_answers_serving_over_a_unix_socket() {
    let listener = SafeUnixListener::bind_temp().unwrap();
    let addr = listener.addr().clone();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("app", ServingStatus::NotServing)
        .await;
    let server = tokio::spawn(
        Server::builder()
            .add_service(health)
            .serve_with_incoming(listener),
    );

    // The URI is required by tonic and unused: every connection goes to
    // `addr`.
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(UnixConnector::new(addr))
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let check = |service: &str| HealthCheckRequest {
        service: service.to_owned(),
    };
    let overall = client.check(check("")).await.unwrap().into_inner();
    assert_eq!(overall.status(), Status::Serving);
    let app = client.check(check("app")).await.unwrap().into_inner();
    assert_eq!(app.status(), Status::NotServing);
    let unknown = client.check(check("nope")).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    server.abort();
}
