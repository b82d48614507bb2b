//! drydock's state transaction with each PostgreSQL driver (scripts/bench-drivers.sh).
//! The state transaction drydock runs on every admitted write, with each driver:
//! BEGIN; SELECT … FOR UPDATE; INSERT; UPDATE … RETURNING; NOTIFY; COMMIT.
use std::time::Instant;
use hdrhistogram::Histogram;

const SETUP: &str = "DROP TABLE IF EXISTS g, e; CREATE TABLE g (id INT PRIMARY KEY, v BIGINT); INSERT INTO g VALUES (1, 1); CREATE TABLE e (id TEXT PRIMARY KEY, s TEXT)";

fn report(name: &str, h: &Histogram<u64>, secs: f64) {
    println!("| {name} | {} | {:.0} | {} | {} |", h.len(), h.len() as f64 / secs, h.value_at_quantile(0.5), h.value_at_quantile(0.99));
}

async fn tp(url: &str, n: usize, tasks: usize) {
    let url = url.to_string();
    // tokio-postgres + deadpool
    let cfg: tokio_postgres::Config = url.parse().unwrap();
    let mgr = deadpool_postgres::Manager::from_config(cfg, tokio_postgres::NoTls, deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast });
    let pool = deadpool_postgres::Pool::builder(mgr).max_size(8).runtime(deadpool_postgres::Runtime::Tokio1).build().unwrap();
    pool.get().await.unwrap().batch_execute(SETUP).await.unwrap();
    let t0 = Instant::now();
    let mut hs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Histogram<u64>>>>> = Vec::new();
    for t in 0..tasks {
        let pool = pool.clone();
        hs.push(Box::pin(async move {
            let mut h = Histogram::<u64>::new(3).unwrap();
            for i in 0..n / tasks {
                let s = Instant::now();
                let mut c = pool.get().await.unwrap();
                let tx = c.transaction().await.unwrap();
                let st = tx.prepare_cached("SELECT v FROM g WHERE id = 1 FOR UPDATE").await.unwrap();
                let _v: i64 = tx.query_one(&st, &[]).await.unwrap().get(0);
                let st = tx.prepare_cached("INSERT INTO e (id, s) VALUES ($1, $2)").await.unwrap();
                tx.execute(&st, &[&format!("tp-{t}-{i}"), &"pending"]).await.unwrap();
                let st = tx.prepare_cached("UPDATE g SET v = v + 1 WHERE id = 1 RETURNING v").await.unwrap();
                let _v: i64 = tx.query_one(&st, &[]).await.unwrap().get(0);
                tx.batch_execute("NOTIFY drydock, 'state'").await.unwrap();
                tx.commit().await.unwrap();
                h.record(s.elapsed().as_micros() as u64).unwrap();
            }
            h
        }));
    }
    let mut all = Histogram::<u64>::new(3).unwrap();
    for h in futures::future::join_all(hs).await { all.add(h).unwrap(); }
    report("tokio-postgres 0.7 + deadpool 0.14", &all, t0.elapsed().as_secs_f64());

}

async fn sq(url: &str, n: usize, tasks: usize) {
    let url = url.to_string();
    // sqlx
    let spool = sqlx::postgres::PgPoolOptions::new().max_connections(8).connect(&url).await.unwrap();
    sqlx::raw_sql(SETUP).execute(&spool).await.unwrap();
    let t0 = Instant::now();
    let mut hs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Histogram<u64>>>>> = Vec::new();
    for t in 0..tasks {
        let spool = spool.clone();
        hs.push(Box::pin(async move {
            let mut h = Histogram::<u64>::new(3).unwrap();
            for i in 0..n / tasks {
                let s = Instant::now();
                let mut tx = spool.begin().await.unwrap();
                let _v: (i64,) = sqlx::query_as("SELECT v FROM g WHERE id = 1 FOR UPDATE").fetch_one(&mut *tx).await.unwrap();
                sqlx::query("INSERT INTO e (id, s) VALUES ($1, $2)").bind(format!("sq-{t}-{i}")).bind("pending").execute(&mut *tx).await.unwrap();
                let _v: (i64,) = sqlx::query_as("UPDATE g SET v = v + 1 WHERE id = 1 RETURNING v").fetch_one(&mut *tx).await.unwrap();
                sqlx::raw_sql("NOTIFY drydock, 'state'").execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
                h.record(s.elapsed().as_micros() as u64).unwrap();
            }
            h
        }));
    }
    let mut all = Histogram::<u64>::new(3).unwrap();
    for h in futures::future::join_all(hs).await { all.add(h).unwrap(); }
    report("sqlx 0.8", &all, t0.elapsed().as_secs_f64());
}

#[tokio::main]
async fn main() {
    let url = std::env::var("URL").unwrap();
    println!("| driver | transactions | per s | p50 µs | p99 µs |\n|---|---|---|---|---|");
    for round in 0..3 {
        if round % 2 == 0 { tp(&url, 2000, 4).await; sq(&url, 2000, 4).await; } else { sq(&url, 2000, 4).await; tp(&url, 2000, 4).await; }
    }
}
