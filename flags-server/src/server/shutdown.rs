//! The shutdown channel's one question, asked by every task that must stop
//! with its server.

use tokio::sync::watch;

/// Returns once the shutdown channel says stop.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // `wait_for` returns at once if the value is already `true`, and with an
    // error if the sender is gone: both mean stop. The value it returns
    // borrows the channel, so it is dropped right here.
    let _ = shutdown.wait_for(|stop| *stop).await;
}
