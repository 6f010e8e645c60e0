//! A layered layout: longest path from the start for the layers (cycles
//! broken by turning back edges around), a dummy node on every layer a
//! long edge crosses, barycentres (down and up) for the order within a
//! layer. An edge's route goes through its dummies, so that it never
//! crosses a node's box: between layers it stays in the gap, and within a
//! layer it passes through a slot of its own.

use crate::{Graph, NodeKind};

/// Where each node goes, in pixels, and the way each edge takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub nodes: Vec<Placed>,
    /// Per edge, the points it passes through, from its source to its
    /// target: the source's bottom (top, for an edge going up), each
    /// dummy's top and bottom, the target's top (bottom).
    pub routes: Vec<Vec<(f64, f64)>>,
    pub width: f64,
    pub height: f64,
}

/// A node's box: centre, size, and layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub layer: usize,
}

pub(crate) const CHAR_WIDTH: f64 = 7.2;
const NODE_HEIGHT: f64 = 32.0;
const LAYER_GAP: f64 = 56.0;
const NODE_GAP: f64 = 28.0;
const MARGIN: f64 = 16.0;
/// The width of a dummy's slot in its layer.
const DUMMY_WIDTH: f64 = 6.0;
/// How far apart an edge going up runs from one going down between the same nodes.
const BACK_OFFSET: f64 = 5.0;

pub(crate) fn layout(graph: &Graph) -> Layout {
    let n = graph.nodes.len();
    let back = back_edges(graph);
    let mut layer = vec![0usize; n];
    // Longest path over the forward edges (a DAG once back edges are out).
    for _ in 0..n {
        let mut changed = false;
        for (i, edge) in graph.edges.iter().enumerate() {
            if !back[i] && edge.from != edge.to && layer[edge.to] < layer[edge.from] + 1 {
                layer[edge.to] = layer[edge.from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let deepest = layer.iter().copied().max().unwrap_or(0);
    for (i, node) in graph.nodes.iter().enumerate() {
        if matches!(node.kind, NodeKind::Stop | NodeKind::Caller) {
            layer[i] = deepest.max(layer[i]);
        }
    }
    let layers = deepest + 1;
    // Every edge as a chain from its upper end to its lower end, with a
    // dummy on each layer between; nodes from `n` on are dummies.
    let mut widths: Vec<f64> =
        (0..n).map(|i| graph.nodes[i].label.chars().count() as f64 * CHAR_WIDTH + 28.0).collect();
    let mut node_layer = layer.clone();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(graph.edges.len());
    let mut links: Vec<(usize, usize)> = Vec::new();
    for edge in &graph.edges {
        let (upper, lower) =
            if layer[edge.from] <= layer[edge.to] { (edge.from, edge.to) } else { (edge.to, edge.from) };
        let mut chain = vec![upper];
        for l in layer[upper] + 1..layer[lower] {
            node_layer.push(l);
            widths.push(DUMMY_WIDTH);
            chain.push(node_layer.len() - 1);
        }
        chain.push(lower);
        for pair in chain.windows(2) {
            if pair[0] != pair[1] {
                links.push((pair[0], pair[1]));
            }
        }
        chains.push(chain);
    }
    let total = node_layer.len();
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, &l) in node_layer.iter().enumerate() {
        rows[l].push(i);
    }
    order(&mut rows, &node_layer, &links, total);
    let row_width = |row: &Vec<usize>| {
        row.iter().map(|&i| widths[i]).sum::<f64>() + NODE_GAP * row.len().saturating_sub(1) as f64
    };
    let width = rows.iter().map(row_width).fold(0.0, f64::max) + 2.0 * MARGIN;
    let mut placed = vec![Placed { x: 0.0, y: 0.0, width: 0.0, height: 0.0, layer: 0 }; total];
    for (l, row) in rows.iter().enumerate() {
        let mut x = (width - row_width(row)) / 2.0;
        let y = MARGIN + NODE_HEIGHT / 2.0 + l as f64 * (NODE_HEIGHT + LAYER_GAP);
        for &i in row {
            let w = widths[i];
            placed[i] = Placed { x: x + w / 2.0, y, width: w, height: NODE_HEIGHT, layer: l };
            x += w + NODE_GAP;
        }
    }
    let routes = graph
        .edges
        .iter()
        .zip(&chains)
        .map(|(edge, chain)| {
            if layer[edge.from] == layer[edge.to] {
                // Beside each other: under the row, in the gap, and back up.
                let (a, b) = (placed[edge.from], placed[edge.to]);
                let below = a.y + a.height / 2.0 + LAYER_GAP / 3.0;
                return vec![
                    (a.x, a.y + a.height / 2.0),
                    (a.x, below),
                    (b.x, below),
                    (b.x, b.y + b.height / 2.0),
                ];
            }
            let up = layer[edge.from] > layer[edge.to];
            // An edge going up runs beside the one going down, if there is one.
            let shift = if up { BACK_OFFSET } else { 0.0 };
            let mut points = Vec::with_capacity(chain.len() * 2);
            for (k, &node) in chain.iter().enumerate() {
                let p = placed[node];
                let (top, bottom) = (p.y - p.height / 2.0, p.y + p.height / 2.0);
                let x = p.x + shift;
                if k > 0 {
                    points.push((x, top));
                }
                if k + 1 < chain.len() {
                    points.push((x, bottom));
                }
            }
            if up {
                points.reverse();
            }
            points
        })
        .collect();
    placed.truncate(n);
    let height = 2.0 * MARGIN + layers as f64 * NODE_HEIGHT + (layers - 1) as f64 * LAYER_GAP;
    Layout { nodes: placed, routes, width, height }
}

/// Orders each layer to cut crossings: barycentres of the neighbours above,
/// then of those below, a few sweeps.
fn order(rows: &mut [Vec<usize>], layer: &[usize], links: &[(usize, usize)], total: usize) {
    let mut position = vec![0.0; total];
    let index = |rows: &[Vec<usize>], position: &mut Vec<f64>| {
        for row in rows.iter() {
            for (k, &node) in row.iter().enumerate() {
                position[node] = k as f64;
            }
        }
    };
    index(rows, &mut position);
    for sweep in 0..4 {
        let down = sweep % 2 == 0;
        let order: Vec<usize> =
            if down { (1..rows.len()).collect() } else { (0..rows.len().saturating_sub(1)).rev().collect() };
        for l in order {
            let mut keyed: Vec<(f64, usize)> = rows[l]
                .iter()
                .map(|&node| {
                    let neighbours: Vec<f64> = links
                        .iter()
                        .filter_map(|&(a, b)| {
                            if down && b == node && layer[a] < layer[node] {
                                Some(position[a])
                            } else if !down && a == node && layer[b] > layer[node] {
                                Some(position[b])
                            } else {
                                None
                            }
                        })
                        .collect();
                    let key = if neighbours.is_empty() {
                        position[node]
                    } else {
                        neighbours.iter().sum::<f64>() / neighbours.len() as f64
                    };
                    (key, node)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            rows[l] = keyed.into_iter().map(|(_, node)| node).collect();
            index(rows, &mut position);
        }
    }
}

/// Marks the edges that close a cycle in a depth-first search from the
/// start node (then from any node not yet seen).
pub(crate) fn back_edges(graph: &Graph) -> Vec<bool> {
    let n = graph.nodes.len();
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut back = vec![false; graph.edges.len()];
    let mut roots: Vec<usize> = (0..n).filter(|&i| graph.nodes[i].kind == NodeKind::Start).collect();
    roots.extend(0..n);
    for root in roots {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let outgoing: Vec<usize> =
                (0..graph.edges.len()).filter(|&e| graph.edges[e].from == node).collect();
            if let Some(&edge) = outgoing.get(*next) {
                *next += 1;
                let to = graph.edges[edge].to;
                match state[to] {
                    0 => {
                        state[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => back[edge] = true,
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    back
}

#[cfg(test)]
mod tests {
    use crate::tests::sample;
    use crate::{Graph, StepSpec};

    /// xorshift: graphs from a seed, the same on every machine.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// A workflow-shaped graph of up to 40 nodes: a chain from the start,
    /// with branches, loops back, fan-out (one event to many steps), fan-in
    /// (many steps to one event), long edges (an early step to the stop),
    /// streams to the caller and child workflows, as `seed` decides.
    fn generated(seed: u64) -> Graph {
        let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let steps = 1 + random.below(14);
        let events = (2 + random.below(16)).min(38 - steps).max(2);
        let names: Vec<String> = (0..events).map(|i| format!("Event{i}")).collect();
        let step_names: Vec<String> = (0..steps).map(|i| format!("step_{i}")).collect();
        let event = |i: usize| names[i].as_str();
        // Per step: what it accepts, emits, streams, and runs as children.
        type Lists<'a> = [Vec<&'a str>; 4];
        let mut specs: Vec<Lists<'_>> = Vec::new();
        for s in 0..steps {
            // The chain: step s takes event s (or one before it), gives s + 1.
            let mut accepts = vec![event(s.min(events - 1))];
            let mut emits = vec![event((s + 1).min(events - 1))];
            match random.below(6) {
                0 => accepts.push(event(random.below(events))), // fan-out from an event
                1 => emits.push(event(random.below(events))),   // a loop back or a branch
                2 => emits.push(event(events - 1)),             // a long edge to the stop
                3 => emits.push(event(random.below(events))),   // fan-in to an event
                _ => {}
            }
            let streams = if random.below(4) == 0 { vec![event(random.below(events))] } else { vec![] };
            let children = if random.below(8) == 0 { vec!["Child"] } else { vec![] };
            accepts.dedup();
            emits.dedup();
            specs.push([accepts, emits, streams, children]);
        }
        // Some steps fan out what they emit, collect what they take, or wait
        // for an event the caller sends.
        let shapes: Vec<(bool, bool, Vec<&str>)> = (0..steps)
            .map(|_| {
                (
                    random.below(4) == 0,
                    random.below(4) == 0,
                    if random.below(5) == 0 { vec![event(random.below(events))] } else { vec![] },
                )
            })
            .collect();
        let specs: Vec<StepSpec<'_>> = specs
            .iter()
            .zip(&step_names)
            .zip(&shapes)
            .map(|(([accepts, emits, streams, children], name), (fans, collects, waits))| StepSpec {
                name,
                accepts,
                collects: *collects,
                emits,
                fans_out: if *fans { emits } else { &[] },
                streams,
                waits,
                children,
            })
            .collect();
        let answers: Vec<&str> = shapes.iter().flat_map(|(_, _, waits)| waits.iter().copied()).collect();
        let events: Vec<&str> = names.iter().map(String::as_str).collect();
        Graph::workflow(&events, &specs, events[0], events[events.len() - 1], &answers)
    }

    /// Whether any part of `route` enters a node's box: each piece lies in
    /// the box its two ends span (a curve has vertical ends), which must not
    /// reach into a box's inside.
    fn crossings(graph: &Graph, layout: &super::Layout) -> Vec<String> {
        let mut found = Vec::new();
        for (e, route) in layout.routes.iter().enumerate() {
            for piece in route.windows(2) {
                let ((x1, y1), (x2, y2)) = (piece[0], piece[1]);
                let (left, right, top, bottom) = (x1.min(x2), x1.max(x2), y1.min(y2), y1.max(y2));
                for (n, node) in layout.nodes.iter().enumerate() {
                    let inside = 0.5;
                    let enters = right > node.x - node.width / 2.0 + inside
                        && left < node.x + node.width / 2.0 - inside
                        && bottom > node.y - node.height / 2.0 + inside
                        && top < node.y + node.height / 2.0 - inside;
                    if enters {
                        let edge = graph.edges[e];
                        found.push(format!(
                            "edge {} -> {} passes through {}",
                            graph.nodes[edge.from].label, graph.nodes[edge.to].label, graph.nodes[n].label
                        ));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn no_edge_passes_through_a_nodes_box_in_generated_graphs() {
        let (mut sizes, mut long, mut up) = (Vec::new(), 0, 0);
        for seed in 0..500 {
            let graph = generated(seed);
            assert!(graph.nodes.len() <= 40);
            sizes.push(graph.nodes.len());
            let layout = graph.layout();
            let found = crossings(&graph, &layout);
            assert!(found.is_empty(), "seed {seed}: {found:?}");
            long += layout.routes.iter().filter(|r| r.len() > 2).count();
            up += layout.routes.iter().filter(|r| r.len() >= 2 && r[0].1 > r[r.len() - 1].1).count();
        }
        // The generator makes small and large graphs, long edges and loops.
        assert!(sizes.iter().any(|&n| n < 8) && sizes.iter().any(|&n| n > 30), "{sizes:?}");
        assert!(long > 100 && up > 100, "{long} long edges, {up} going up");
    }

    #[test]
    fn the_check_sees_an_edge_through_a_box() {
        // The straight line an edge took before the dummies: from the
        // source down through whatever lies below it, to the target.
        let graph = generated(3);
        let mut layout = graph.layout();
        let (e, edge) = graph
            .edges
            .iter()
            .enumerate()
            .find(|(_, e)| layout.nodes[e.to].layer >= layout.nodes[e.from].layer + 2)
            .expect("a long edge");
        let (a, b) = (layout.nodes[edge.from], layout.nodes[edge.to]);
        let middle = layout.nodes.iter().find(|n| n.layer == a.layer + 1).copied().unwrap();
        layout.routes[e] =
            vec![(a.x, a.y + a.height / 2.0), (middle.x, middle.y), (b.x, b.y - b.height / 2.0)];
        assert!(!crossings(&graph, &layout).is_empty());
    }

    #[test]
    fn layers_follow_the_flow_and_loops_do_not_push_nodes_down() {
        let layout = sample().layout();
        let layers: Vec<usize> = layout.nodes.iter().map(|p| p.layer).collect();
        // Start 0, retrieve 1, Retrieved 2, answer 3, Progress 4, Stop 4, caller 5.
        assert_eq!(layers, [0, 2, 4, 5, 1, 3, 5]);
        assert!(layout
            .nodes
            .iter()
            .all(|p| p.x - p.width / 2.0 >= 0.0 && p.x + p.width / 2.0 <= layout.width));
    }
}
