struct Counter {
    n: i64,
}

impl Counter {
    #[rustyray::remote]
    fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }
}

fn main() {
    let mut c = Counter { n: 0 };
    c.incr(1);
}
