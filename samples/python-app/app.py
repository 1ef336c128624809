"""A small Flask application as legacy hosts run it under gunicorn: one route answers a static
string, another counts visits in the redis named by REDIS_URL."""

import os

import redis
from flask import Flask

app = Flask(__name__)
store = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


@app.route("/")
def index():
    return "hello from a flask app under gunicorn\n"


@app.route("/count")
def count():
    return f"count={store.incr('liftkit:visits')}\n"
