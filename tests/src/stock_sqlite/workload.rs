//! A realistic, seeded SQL workload with its model: a small shop (customers with notes large
//! enough to need overflow pages, orders) with indexes (one unique), run as many transactions of
//! inserts, updates and deletes, one explicitly rolled back, one with a savepoint partly rolled
//! back. The model is what the database must hold afterwards; [`read`] reads it back and
//! [`Summary`] condenses it into a line the stock `sqlite3` shell can compute as well.

use folio_vfs::sim::Rng;
use rusqlite::{params, Connection, Transaction};
use std::collections::BTreeMap;
use std::fmt;

/// The schema: two tables, three indexes (one unique, one composite).
pub const SCHEMA: &str = "
    CREATE TABLE customers(
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, notes BLOB);
    CREATE INDEX customers_name ON customers(name);
    CREATE TABLE orders(
        id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, amount INTEGER NOT NULL, memo TEXT);
    CREATE INDEX orders_customer ON orders(customer, amount);";

/// The transaction that is rolled back instead of committed.
pub const ROLLED_BACK_TXN: usize = 7;
/// The transaction whose savepoint is rolled back half way.
pub const SAVEPOINT_TXN: usize = 13;

/// A customer row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// `name`.
    pub name: String,
    /// `email` (unique).
    pub email: String,
    /// `notes`: up to a few pages, so many rows spill into overflow pages.
    pub notes: Vec<u8>,
}

/// An order row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// `customer`.
    pub customer: i64,
    /// `amount`.
    pub amount: i64,
    /// `memo`.
    pub memo: String,
}

/// What the database holds.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Shop {
    /// Customers by id.
    pub customers: BTreeMap<i64, Customer>,
    /// Orders by id.
    pub orders: BTreeMap<i64, Order>,
}

impl fmt::Debug for Shop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Shop({})", self.summary())
    }
}

/// One change, applied the same way to the database and to the model.
#[derive(Debug, Clone)]
enum Change {
    PutCustomer(i64, Customer),
    DeleteCustomer(i64),
    PutOrder(i64, Order),
    DeleteOrder(i64),
}

impl Change {
    fn apply_sql(&self, tx: &Connection) -> rusqlite::Result<()> {
        match self {
            Change::PutCustomer(id, c) => tx.execute(
                "INSERT OR REPLACE INTO customers(id, name, email, notes) VALUES (?1, ?2, ?3, ?4)",
                params![id, c.name, c.email, c.notes],
            ),
            Change::DeleteCustomer(id) => {
                tx.execute("DELETE FROM orders WHERE customer = ?1", [id])?;
                tx.execute("DELETE FROM customers WHERE id = ?1", [id])
            }
            Change::PutOrder(id, o) => tx.execute(
                "INSERT OR REPLACE INTO orders(id, customer, amount, memo) VALUES (?1, ?2, ?3, ?4)",
                params![id, o.customer, o.amount, o.memo],
            ),
            Change::DeleteOrder(id) => tx.execute("DELETE FROM orders WHERE id = ?1", [id]),
        }
        .map(drop)
    }

    fn apply_model(&self, shop: &mut Shop) {
        match self {
            Change::PutCustomer(id, c) => {
                shop.customers.insert(*id, c.clone());
            }
            Change::DeleteCustomer(id) => {
                shop.orders.retain(|_, o| o.customer != *id);
                shop.customers.remove(id);
            }
            Change::PutOrder(id, o) => {
                shop.orders.insert(*id, o.clone());
            }
            Change::DeleteOrder(id) => {
                shop.orders.remove(id);
            }
        }
    }
}

/// Draws the changes of one transaction against the current model.
struct Draw<'a> {
    rng: &'a mut Rng,
    next_customer: i64,
    next_order: i64,
}

impl Draw<'_> {
    fn notes(&mut self) -> Vec<u8> {
        // Half the rows fit in a 4 KiB page, half need one to three overflow pages.
        let len = match self.rng.below(4) {
            0 => 0,
            1 => self.rng.below(1000),
            _ => 1000 + self.rng.below(11_000),
        };
        let mut notes = vec![0; len as usize];
        self.rng.fill(&mut notes);
        notes
    }

    fn customer(&mut self, id: i64) -> Customer {
        let name = format!("customer {:03}", self.rng.below(200));
        Customer { name, email: format!("c{id}@example.com"), notes: self.notes() }
    }

    fn pick(&mut self, ids: &[i64]) -> Option<i64> {
        (!ids.is_empty()).then(|| ids[self.rng.below(ids.len() as u64) as usize])
    }

    fn txn(&mut self, shop: &Shop) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut customers: Vec<i64> = shop.customers.keys().copied().collect();
        for _ in 0..3 + self.rng.below(6) {
            let id = self.next_customer;
            self.next_customer += 1;
            customers.push(id);
            changes.push(Change::PutCustomer(id, self.customer(id)));
        }
        for _ in 0..5 + self.rng.below(11) {
            let id = self.next_order;
            self.next_order += 1;
            let customer = self.pick(&customers).expect("customers were just added");
            let amount = self.rng.below(100_000) as i64;
            changes.push(Change::PutOrder(id, Order { customer, amount, memo: format!("o{id}") }));
        }
        for _ in 0..1 + self.rng.below(3) {
            if let Some(id) = self.pick(&customers) {
                changes.push(Change::PutCustomer(id, self.customer(id)));
            }
        }
        let orders: Vec<i64> = shop.orders.keys().copied().collect();
        for _ in 0..self.rng.below(3) {
            if let Some(id) = self.pick(&orders) {
                changes.push(Change::DeleteOrder(id));
            }
        }
        if self.rng.below(3) == 0 {
            if let Some(id) = self.pick(&shop.customers.keys().copied().collect::<Vec<_>>()) {
                changes.push(Change::DeleteCustomer(id));
            }
        }
        changes
    }
}

fn apply_all(tx: &Transaction<'_>, changes: &[Change], shop: &mut Shop) -> rusqlite::Result<()> {
    for change in changes {
        change.apply_sql(tx)?;
        change.apply_model(shop);
    }
    Ok(())
}

/// Creates the schema on `conn`.
pub fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// Runs `n_txns` seeded transactions on `conn` (which has the schema), and returns the model
/// of what it must hold: transaction [`ROLLED_BACK_TXN`] is rolled back, transaction
/// [`SAVEPOINT_TXN`] rolls back a savepoint's first half before committing the rest.
pub fn run(conn: &mut Connection, seed: u64, n_txns: usize) -> rusqlite::Result<Shop> {
    let mut rng = Rng::new(seed);
    let mut draw = Draw { rng: &mut rng, next_customer: 1, next_order: 1 };
    let mut shop = Shop::default();
    for t in 0..n_txns {
        let changes = draw.txn(&shop);
        let mut tx = conn.transaction()?;
        let mut next = shop.clone();
        if t == SAVEPOINT_TXN {
            let (first, second) = changes.split_at(changes.len() / 2);
            let mut discarded = next.clone();
            {
                let mut sp = tx.savepoint()?;
                for change in first {
                    change.apply_sql(&sp)?;
                    change.apply_model(&mut discarded);
                }
                sp.rollback()?;
                for change in second {
                    change.apply_sql(&sp)?;
                    change.apply_model(&mut next);
                }
                sp.commit()?;
            }
            assert_ne!(discarded, next, "the savepoint's rolled-back half changed nothing");
        } else {
            apply_all(&tx, &changes, &mut next)?;
        }
        if t == ROLLED_BACK_TXN {
            tx.rollback()?;
        } else {
            tx.commit()?;
            shop = next;
        }
    }
    Ok(shop)
}

/// Reads the whole shop back from `conn`.
pub fn read(conn: &Connection) -> rusqlite::Result<Shop> {
    let mut shop = Shop::default();
    let mut stmt = conn.prepare("SELECT id, name, email, notes FROM customers ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        let notes: Option<Vec<u8>> = r.get(3)?;
        Ok((
            r.get(0)?,
            Customer { name: r.get(1)?, email: r.get(2)?, notes: notes.unwrap_or_default() },
        ))
    })?;
    for row in rows {
        let (id, customer) = row?;
        shop.customers.insert(id, customer);
    }
    let mut stmt = conn.prepare("SELECT id, customer, amount, memo FROM orders ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, Order { customer: r.get(1)?, amount: r.get(2)?, memo: r.get(3)? }))
    })?;
    for row in rows {
        let (id, order) = row?;
        shop.orders.insert(id, order);
    }
    Ok(shop)
}

/// The shop condensed: counts, sums, and the ids with their notes' lengths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary(pub String);

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SQL that prints a [`Summary`] line in the stock `sqlite3` shell (its default `|`
/// separator), for comparison with [`Shop::summary`].
pub const SUMMARY_SQL: &str = "
    SELECT (SELECT count(*) FROM customers),
           (SELECT coalesce(sum(length(notes)), 0) FROM customers),
           (SELECT count(*) FROM orders),
           (SELECT coalesce(sum(amount), 0) FROM orders),
           (SELECT coalesce(group_concat(id || ':' || coalesce(length(notes), 0), ','), '')
              FROM (SELECT id, notes FROM customers ORDER BY id));";

impl Shop {
    /// The line [`SUMMARY_SQL`] prints for this shop.
    pub fn summary(&self) -> Summary {
        let notes: usize = self.customers.values().map(|c| c.notes.len()).sum();
        let amount: i64 = self.orders.values().map(|o| o.amount).sum();
        let ids: Vec<String> =
            self.customers.iter().map(|(id, c)| format!("{id}:{}", c.notes.len())).collect();
        Summary(format!(
            "{}|{notes}|{}|{amount}|{}",
            self.customers.len(),
            self.orders.len(),
            ids.join(",")
        ))
    }

    /// Rows whose notes need overflow pages at a 4 KiB page size.
    pub fn n_overflowing(&self) -> usize {
        self.customers.values().filter(|c| c.notes.len() > 4000).count()
    }
}
