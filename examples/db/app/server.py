"""A counter that uses both databases.

GET /        increments a Redis counter, inserts a row into PostgreSQL and
             answers JSON with the counter, the row count and the new row.
GET /health  answers 200 when both databases answer.
"""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import redis

DATABASE_URL = os.environ["DATABASE_URL"]
REDIS_URL = os.environ["REDIS_URL"]
PORT = int(os.environ.get("PORT", "8000"))

cache = redis.Redis.from_url(REDIS_URL, socket_timeout=2)


def db():
    return psycopg2.connect(DATABASE_URL, connect_timeout=2)


def setup():
    with db() as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS visits ("
            " id serial PRIMARY KEY,"
            " counter bigint NOT NULL,"
            " at timestamptz NOT NULL DEFAULT now())"
        )


class Handler(BaseHTTPRequestHandler):
    def answer(self, code, body):
        data = json.dumps(body).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        try:
            if self.path == "/health":
                cache.ping()
                with db() as conn, conn.cursor() as cur:
                    cur.execute("SELECT 1")
                self.answer(200, {"status": "ok"})
            elif self.path == "/":
                counter = cache.incr("visits")
                with db() as conn, conn.cursor() as cur:
                    cur.execute(
                        "INSERT INTO visits (counter) VALUES (%s) RETURNING id, at",
                        (counter,),
                    )
                    row_id, at = cur.fetchone()
                    cur.execute("SELECT count(*) FROM visits")
                    (rows,) = cur.fetchone()
                self.answer(200, {
                    "redis_counter": counter,
                    "postgres_rows": rows,
                    "row": {"id": row_id, "counter": counter, "at": at.isoformat()},
                })
            else:
                self.answer(404, {"error": "not found"})
        except (psycopg2.Error, redis.RedisError) as e:
            self.answer(503, {"error": str(e)})


if __name__ == "__main__":
    setup()
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    print(f"listening on :{PORT}", flush=True)
    server.serve_forever()
