-- sqlite3 workload for bench/run and tools/check-programs: build a database
-- and query it. They replace @ROWS@ with the row count and run it with
-- sqlite3 on a fresh database file. Only deterministic expressions are used (no
-- random()), so the output is the same under every allocator.
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -65536;
PRAGMA temp_store = MEMORY;

CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, born INTEGER);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, item TEXT,
                     qty INTEGER, price REAL, note TEXT);

BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @ROWS@ / 10)
INSERT INTO customers
SELECT i, 'customer-' || hex((i * 2654435761) % 4294967296),
       'city-' || ((i * 7919) % 97), 1940 + (i * 31) % 70 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @ROWS@)
INSERT INTO orders
SELECT i, 1 + (i * 48271) % (@ROWS@ / 10), 'item-' || ((i * 16807) % 5000),
       1 + (i * 13) % 17, ((i * 69069) % 100000) / 100.0,
       substr('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor',
              1 + (i % 40), 10 + (i * 7) % 60)
FROM n;
COMMIT;

CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_item ON orders(item, price);
CREATE INDEX customers_city ON customers(city);

SELECT count(*), sum(qty), round(sum(qty * price), 2) FROM orders;
SELECT c.city, count(*), round(sum(o.qty * o.price), 2) AS total
  FROM orders o JOIN customers c ON c.id = o.customer
  GROUP BY c.city ORDER BY total DESC, c.city LIMIT 10;
SELECT item, count(*), round(avg(price), 3) FROM orders
  GROUP BY item HAVING count(*) > 10 ORDER BY count(*) DESC, item LIMIT 10;
SELECT name, born FROM customers ORDER BY name DESC LIMIT 5;
SELECT group_concat(note, ';') IS NOT NULL, length(group_concat(note, ';'))
  FROM (SELECT note FROM orders ORDER BY note, id LIMIT 20000);

UPDATE orders SET note = note || ' (updated)', price = price * 1.1 WHERE id % 3 = 0;
DELETE FROM orders WHERE qty > 14;
SELECT count(*), round(sum(price), 2), sum(length(note)) FROM orders;

SELECT customer, count(*) AS c FROM orders GROUP BY customer ORDER BY c DESC, customer LIMIT 5;
SELECT count(DISTINCT note), count(DISTINCT item) FROM orders;
SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer
  WHERE o.item = 'item-42' ORDER BY o.price DESC, o.id LIMIT 5;
PRAGMA integrity_check;
