// A streaming generator returns `impl Iterator<Item = T> + Send + 'static`
// (sync) or `impl Stream<Item = T> + Send + 'static` (async).
#[rustyray::remote(streaming)]
fn not_an_iterator(n: u32) -> Vec<u32> {
    (0..n).collect()
}

#[rustyray::remote(streaming)]
fn not_static(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[rustyray::remote(streaming, num_returns = 2)]
fn split(n: u32) -> impl Iterator<Item = u32> + Send + 'static {
    0..n
}

#[rustyray::remote(streaming)]
async fn sync_shape(n: u32) -> impl Iterator<Item = u32> + Send + 'static {
    0..n
}

#[rustyray::actor]
struct Feed;

#[rustyray::actor]
impl Feed {
    fn new() -> Self {
        Feed
    }

    #[method(streaming)]
    fn events(&self) -> Vec<u32> {
        Vec::new()
    }
}

fn main() {}
