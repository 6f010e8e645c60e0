//! The scenarios written by hand with plain tokio: an enum of events, a
//! queue, and a `match` that calls each step. This is the floor: what the
//! work costs without any framework.

use std::collections::{HashMap, VecDeque};

use tokio::sync::mpsc;

enum Ev {
    Start(u64),
    Step(u8, u64),
    Stop(u64),
}

async fn next(step: u8, value: u64) -> Ev {
    if step == 9 {
        Ev::Stop(value + 1)
    } else {
        Ev::Step(step + 1, value + 1)
    }
}

async fn run_chain(input: u64) -> u64 {
    let mut queue = VecDeque::from([Ev::Start(input)]);
    while let Some(event) = queue.pop_front() {
        match event {
            Ev::Start(v) => queue.push_back(Ev::Step(1, v)),
            Ev::Step(step, v) => queue.push_back(next(step, v).await),
            Ev::Stop(v) => return v,
        }
    }
    unreachable!("the chain ends with a stop")
}

pub async fn chain(n: u64) -> u64 {
    for i in 0..n {
        std::hint::black_box(run_chain(i).await);
    }
    n * crate::flows::CHAIN_EVENTS
}

pub async fn concurrent(n: u64) -> u64 {
    let runs: Vec<_> = (0..n).map(|i| tokio::spawn(run_chain(i))).collect();
    for run in runs {
        std::hint::black_box(run.await.expect("the chain runs"));
    }
    n * crate::flows::CHAIN_EVENTS
}

enum Spin {
    Start(u64),
    Tick(u64),
    Stop,
}

pub async fn spin(n: u64) -> u64 {
    let mut queue = VecDeque::from([Spin::Start(n)]);
    while let Some(event) = queue.pop_front() {
        match event {
            Spin::Start(v) => queue.push_back(Spin::Tick(v)),
            Spin::Tick(0) => queue.push_back(Spin::Stop),
            Spin::Tick(v) => queue.push_back(Spin::Tick(std::hint::black_box(v - 1))),
            Spin::Stop => break,
        }
    }
    n + 3
}

enum Fan {
    Job(u64),
    Done(u64),
}

/// Eight workers on a shared queue of jobs, as the workflow has; results
/// come back on a channel and are gathered.
pub async fn fanout(n: u64) -> u64 {
    let (jobs_tx, jobs_rx) = async_channel::<Fan>();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Fan>();
    for i in 0..n {
        jobs_tx.send(Fan::Job(i)).expect("the queue is open");
    }
    drop(jobs_tx);
    let jobs_rx = std::sync::Arc::new(tokio::sync::Mutex::new(jobs_rx));
    for _ in 0..8 {
        let (jobs, done) = (std::sync::Arc::clone(&jobs_rx), done_tx.clone());
        tokio::spawn(async move {
            loop {
                let job = jobs.lock().await.recv().await;
                match job {
                    Some(Fan::Job(i)) => {
                        let _ = done.send(Fan::Done(i));
                    }
                    _ => break,
                }
            }
        });
    }
    drop(done_tx);
    let mut gathered = Vec::with_capacity(n as usize);
    while let Some(Fan::Done(i)) = done_rx.recv().await {
        gathered.push(i);
    }
    assert_eq!(gathered.len() as u64, n);
    2 * n + 2
}

fn async_channel<T>() -> (mpsc::UnboundedSender<T>, mpsc::UnboundedReceiver<T>) {
    mpsc::unbounded_channel()
}

pub async fn stream(n: u64) -> u64 {
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    let producer = tokio::spawn(async move {
        for i in 0..n {
            let _ = tx.send(i);
        }
        n
    });
    let mut seen = 0;
    while rx.recv().await.is_some() {
        seen += 1;
    }
    producer.await.expect("the producer runs");
    assert_eq!(seen, n);
    n + 2
}

pub async fn state(n: u64) -> u64 {
    let store = std::sync::Mutex::new(HashMap::<String, serde_json::Value>::new());
    let mut queue = VecDeque::from([n]);
    while let Some(v) = queue.pop_front() {
        store.lock().expect("not poisoned").insert("last".to_owned(), serde_json::json!(v));
        let last: u64 =
            serde_json::from_value(store.lock().expect("not poisoned")["last"].clone()).expect("a u64");
        if last > 0 {
            queue.push_back(last - 1);
        }
    }
    n + 3
}
