#!/usr/bin/env python3
"""logscale's local AWS stand-in: moto's server plus what tests need in front of it.

1. CloudWatch over CBOR. The Rust SDK's CloudWatch client speaks Smithy RPC v2 CBOR, which moto
   does not. Requests to /service/GraniteServiceVersion20100801/operation/<Op> are decoded,
   re-sent to moto as the same operation in its JSON protocol, and the answer is encoded back to
   CBOR with timestamps tagged as epoch seconds (CBOR tag 1), guided by botocore's service model.
2. Faults and a call log. AWS answers with errors moto never produces (ScalingActivityInProgress,
   ResourceContention, Throttling). POST /_logscale/faults queues such answers for an operation
   (optionally only for requests whose body contains "match", e.g. a group name, so concurrent
   tests do not take each other's faults), or a slow answer ("delay_seconds", then the error if a
   "code" is given, else the normal answer); GET /_logscale/calls lists the operations seen with
   the start of each request body (for S3 PutObject, GetObject, HeadObject and the List calls:
   the path and query), so a test can prove a call was (not) made; a slowed call's entry adds
   "held_from" and, once answered, "held_until" (the stand-in's monotonic clock, in seconds).
3. Many S3 objects at once. POST /_logscale/objects writes objects straight into moto's S3
   backend with chosen LastModified times and the body's MD5 as ETag (200,000 in a few seconds,
   no notifications, nothing in the call log), so a test can prove discovery leaves them alone.
   The JSON contract is in Standin.seed_objects.
4. Listing at S3's cost. moto's ListObjects(V2) copies and sorts every key of the bucket on each
   call; S3 lists from an index, so a call costs the same whatever else the bucket holds. The
   stand-in answers both from a sorted index of key names (install_indexed_listing) with moto's
   exact answers; LOGSCALE_STANDIN_MOTO_LISTING=1 keeps moto's own listing, for comparison.

Usage: standin.py [--host 127.0.0.1] [--port 0] [--port-file F] [--parent-pid PID]
Prints "standin ready http://HOST:PORT" once it accepts connections.
"""
import argparse
import base64
import bisect
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse

import botocore.session
import cbor2
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3 import models as s3_models
from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend, s3_backends
from moto.s3.utils import _VersionedKeyStore
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
JSON_TARGET = "GraniteServiceVersion20100801."


def _cloudwatch_model():
    return botocore.session.get_session().get_service_model("cloudwatch")


def shape_values(shape, value):
    """JSON value → Python value typed as the CBOR wire wants (datetimes, floats, ints)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: shape_values(shape.members.get(k), v) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [shape_values(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: shape_values(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, (int, float)):
            return dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)
        if isinstance(value, str):
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    if kind in ("double", "float") and isinstance(value, (int, float)):
        return float(value)
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_json_value(value):
    """CBOR-decoded request value → JSON-able value (moto's JSON protocol)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


class SeededKey(FakeKey):
    """An S3 object written by /_logscale/objects: a moto FakeKey that keeps only what differs
    per key (name, LastModified) and references one body, ETag and size shared by its batch.

    A FakeKey built by moto's constructor owns a spooled temporary buffer, ACL objects, a
    metadata dict and a lock: ~3.7 KB and ~35 µs each, so 200,000 cost 750 MB and 7 s. Every
    other attribute moto's code reads comes, as a class default, from one key moto itself built
    (adopt_moto_defaults), so listing, GET, HEAD, ranges and copies see an ordinary key; what is
    shared (ACL, metadata) is moto's default for a plain PutObject and not meant to be changed.
    """

    # moto files every model under the service its module path names (moto.<service>.…) and
    # forgets that service's models on /moto-api/reset: seeded keys are S3's.
    __module__ = "moto.s3.logscale_seeded"

    def __init__(self, name, last_modified, batch):
        self.name = name
        self.last_modified = last_modified
        self.bucket_name = batch.bucket_name
        self.account_id = batch.account_id
        self.region_name = batch.region_name
        self.partition = batch.partition
        self._body = batch.body
        self._etag = batch.etag
        self.contentsize = len(batch.body)

    @property
    def value(self):
        return self._body

    @value.setter
    def value(self, new_value):
        if isinstance(new_value, str):
            new_value = new_value.encode()
        self._body = bytes(new_value)
        self.contentsize = len(self._body)

    @property
    def _value_buffer(self):
        # moto's etag and dispose read the body through a file; a fresh view costs nothing kept.
        return io.BytesIO(self._body)

    # ListObjectVersions deep-copies keys through pickling; moto's own state handling expects
    # the per-key buffer and lock this class does not have.
    def __getstate__(self):
        return dict(self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)


SEEDED_PER_KEY = {"name", "last_modified", "bucket_name", "account_id", "region_name", "partition", "_etag", "contentsize"}


def adopt_moto_defaults():
    """Gives SeededKey, as class defaults, every attribute moto's constructor sets on a key."""
    model = FakeKey(name="model", value=b"", account_id=DEFAULT_ACCOUNT_ID, region_name="us-east-1")
    for attr, value in vars(model).items():
        if attr not in SEEDED_PER_KEY and attr != "_value_buffer":
            setattr(SeededKey, attr, value)
    model.dispose()


adopt_moto_defaults()


class SeedBatch:
    """What every key of one /_logscale/objects call shares."""

    def __init__(self, bucket_name, account_id, region_name, partition, body):
        self.bucket_name = bucket_name
        self.account_id = account_id
        self.region_name = region_name
        self.partition = partition
        self.body = body
        self.etag = hashlib.md5(body).hexdigest()  # S3's ETag for a single-part upload


# -- listing from a sorted index of key names ------------------------------------------------

# One lock for every bucket's index: a deep or shallow copy of a key store must not share one.
INDEX_LOCK = threading.Lock()
INDEX_ATTRIBUTE = "_logscale_name_index"
# Past this many names touched since the last listing, one sort of all names beats inserting each.
INCREMENTAL_LIMIT = 1024


class NameIndex:
    """The sorted key names of one bucket's key store, brought up to date when a listing needs it.

    Writes only note the names they touched (insert and delete in a sorted list are O(n) each,
    and /_logscale/objects writes 200,000 names in a row); a listing re-checks those names against
    the store, or sorts all names again when many were touched. A name is in the index exactly
    when the store has an entry for it, whatever that entry holds (delete markers included, as
    moto's listing sees them)."""

    def __init__(self, owner):
        self.owner = owner  # id() of the store: a copied store carries a copy it must not trust
        self.names = None  # None: to be sorted from scratch
        self.touched = set()

    def note(self, name):
        if self.names is None:
            return
        if len(self.touched) >= max(INCREMENTAL_LIMIT, len(self.names) // 16):
            self.names = None
            self.touched.clear()
        else:
            self.touched.add(name)

    def synced(self, store):
        if self.names is not None and self.touched:
            names = self.names
            for name in self.touched:
                at = bisect.bisect_left(names, name)
                indexed = at < len(names) and names[at] == name
                stored = dict.__contains__(store, name)
                if stored and not indexed:
                    names.insert(at, name)
                elif indexed and not stored:
                    del names[at]
            self.touched.clear()
        if self.names is None or len(self.names) != dict.__len__(store):
            # list() of a dict's keys runs without a thread switch: a consistent snapshot.
            self.names = sorted(list(dict.keys(store)))
            self.touched.clear()
        return self.names


def _index_of(store):
    index = store.__dict__.get(INDEX_ATTRIBUTE)
    if index is None or index.owner != id(store):
        index = NameIndex(id(store))
        store.__dict__[INDEX_ATTRIBUTE] = index
    return index


def _note_name(store, name):
    # Called after the write, so a listing that syncs in between sees the write itself and the
    # later note only re-checks a name that is already right.
    with INDEX_LOCK:
        index = store.__dict__.get(INDEX_ATTRIBUTE)
        if index is not None and index.owner == id(store):
            index.note(name)


def _forget_names(store):
    with INDEX_LOCK:
        index = store.__dict__.get(INDEX_ATTRIBUTE)
        if index is not None and index.owner == id(store):
            index.names = None
            index.touched.clear()


def _hook_key_store_writes():
    """Makes every write to a _VersionedKeyStore (moto's per-bucket dict of key name → versions)
    tell that store's NameIndex which name changed."""
    store_class = _VersionedKeyStore

    def by_name(write):
        def written(self, key, *args, **kwargs):
            result = write(self, key, *args, **kwargs)
            _note_name(self, key)
            return result

        return written

    def whole(write):
        def written(self, *args, **kwargs):
            result = write(self, *args, **kwargs)
            _forget_names(self)
            return result

        return written

    def popitem(self):
        name, versions = dict.popitem(self)
        _note_name(self, name)
        return name, versions

    for name in ("__setitem__", "setlist", "pop", "__delitem__", "setdefault"):
        setattr(store_class, name, by_name(getattr(store_class, name)))
    for name in ("clear", "update", "__ior__"):
        setattr(store_class, name, whole(getattr(store_class, name)))
    store_class.popitem = popitem


class ListingFallback(Exception):
    """A case the index does not answer like moto: moto's own listing answers it."""


def _after_range(text):
    """The least string above every string that starts with text (None: there is none)."""
    while text:
        last = ord(text[-1])
        if last < 0x10FFFF:
            return text[:-1] + chr(last + 1)
        text = text[:-1]
    return None


def _skip_range(names, start, text):
    """Index of the first name at or after start that does not start with text."""
    end = _after_range(text)
    return len(names) if end is None else bisect.bisect_left(names, end, start)


def _folder_of(name, prefix, delimiter):
    """moto's CommonPrefix for a name under prefix, or None when it lists as a key."""
    if not delimiter:
        return None
    cut = name.find(delimiter, len(prefix))
    return None if cut < 0 else name[: cut + len(delimiter)]


def _latest(store, name):
    versions = dict.get(store, name)
    if not versions:
        # moto's listing fails on a name whose versions are gone (mid-delete); let it.
        raise ListingFallback()
    return versions[-1]


def _scan(store, names, prefix, delimiter, after, wanted, with_folders):
    """Keys (latest version, delete markers left out) and, if with_folders, CommonPrefixes above
    `after` (all when None) under prefix, in moto's sorted order, up to `wanted` items (all when
    None). A CommonPrefix counts as above `after` by its own string, as moto compares it."""
    start = bisect.bisect_left(names, prefix)
    if after is not None:
        start = max(start, bisect.bisect_right(names, after))
    found = []
    at = start
    while at < len(names) and (wanted is None or len(found) < wanted):
        name = names[at]
        if not name.startswith(prefix):
            break
        folder = _folder_of(name, prefix, delimiter)
        if folder is not None:
            # Every name that starts with the folder lists as that folder; none as a key.
            if with_folders and (after is None or folder > after):
                found.append(folder)
            at = _skip_range(names, at + 1, folder)
            continue
        key = _latest(store, name)
        if not isinstance(key, FakeDeleteMarker):
            found.append(key)
        at += 1
    return found


def install_indexed_listing():
    """Replaces S3Backend.list_objects and list_objects_v2 with versions that read the bucket's
    sorted NameIndex: cost ~ log(bucket) + items returned, instead of a copy and sort of the
    whole bucket. Answers are moto's, quirks included: ListObjects applies the marker and
    MaxKeys to keys only and returns every CommonPrefix; ListObjectsV2 compares StartAfter and
    continuation tokens with CommonPrefixes as strings; NextMarker and continuation tokens are
    moto's (MD5 of the last item, remembered by the backend)."""
    moto_list_objects = S3Backend.list_objects
    moto_list_objects_v2 = S3Backend.list_objects_v2
    table_bucket = getattr(s3_models, "FakeTableStorageBucket", None)

    def moto_answers(bucket, max_keys):
        return (table_bucket is not None and isinstance(bucket, table_bucket)) or (
            max_keys is not None and max_keys < 0
        )

    def list_objects(self, bucket, prefix, delimiter, marker, max_keys):
        if moto_answers(bucket, max_keys):
            return moto_list_objects(self, bucket, prefix, delimiter, marker, max_keys)
        prefix = prefix or ""
        after = (self._pagination_tokens.get(marker) or marker) if marker else None
        try:
            with INDEX_LOCK:
                names = _index_of(bucket.keys).synced(bucket.keys)
                # moto returns every CommonPrefix under the prefix, whatever the marker and MaxKeys.
                listed = _scan(bucket.keys, names, prefix, delimiter, None, None, True) if delimiter else []
                folders = [item for item in listed if isinstance(item, str)]
                wanted = None if max_keys is None else max_keys + 1
                keys = _scan(bucket.keys, names, prefix, delimiter, after, wanted, False)
        except ListingFallback:
            return moto_list_objects(self, bucket, prefix, delimiter, marker, max_keys)
        if max_keys is None:
            return keys, folders, False, None
        keys, is_truncated, next_marker = self._truncate_result(keys, max_keys)
        return keys, folders, is_truncated, next_marker

    def list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys):
        if max_keys is None or moto_answers(bucket, max_keys):
            return moto_list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        after = None
        if continuation_token:
            after = self._pagination_tokens.get(continuation_token)
            if after is None:  # moto fails on a token it never gave; let it
                return moto_list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        elif start_after:
            after = start_after
        try:
            with INDEX_LOCK:
                names = _index_of(bucket.keys).synced(bucket.keys)
                items = _scan(bucket.keys, names, prefix or "", delimiter, after, max_keys + 1, True)
        except ListingFallback:
            return moto_list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        return self._truncate_result(items, max_keys)

    S3Backend.list_objects = list_objects
    S3Backend.list_objects_v2 = list_objects_v2


class SeedError(ValueError):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def parse_time(text, field):
    """RFC 3339 → naive UTC datetime, whole seconds (S3 lists LastModified to the second)."""
    try:
        parsed = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SeedError("400 Bad Request", f"{field}: not an RFC 3339 time: {text!r}") from None
    if parsed.tzinfo is None:
        raise SeedError("400 Bad Request", f"{field}: needs a zone (Z or ±HH:MM): {text!r}")
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def seed_body(request):
    if "body_base64" in request:
        return base64.b64decode(request["body_base64"])
    return str(request.get("body", "")).encode()


def listed_keys(request):
    """(key, LastModified) pairs from "keys": names sharing "last_modified", or objects with their own."""
    shared_time = request.get("last_modified")
    for index, entry in enumerate(request["keys"]):
        if isinstance(entry, str):
            if shared_time is None:
                raise SeedError("400 Bad Request", "keys given as names need \"last_modified\"")
            yield entry, parse_time(shared_time, "last_modified")
        elif isinstance(entry, dict) and "key" in entry and "last_modified" in entry:
            yield entry["key"], parse_time(entry["last_modified"], f"keys[{index}].last_modified")
        else:
            raise SeedError("400 Bad Request", f"keys[{index}]: a name, or {{\"key\", \"last_modified\"}}")


def generated_keys(spec):
    """(key, LastModified) pairs for object n = 0..count-1 at start + n × step_seconds, named by
    the pattern: strftime fields of that time, then {n} (its index) and {hex} (16 random hex
    digits from "seed", so a layout is the same every run)."""
    if not isinstance(spec, dict) or not {"pattern", "count", "start"} <= spec.keys():
        raise SeedError("400 Bad Request", "generate needs pattern, count and start")
    try:
        pattern = str(spec["pattern"])
        count = int(spec["count"])
        step = dt.timedelta(seconds=float(spec.get("step_seconds", 0)))
    except (TypeError, ValueError) as bad:
        raise SeedError("400 Bad Request", f"generate: {bad}") from None
    start = parse_time(spec["start"], "generate.start")
    if count < 0:
        raise SeedError("400 Bad Request", "generate.count must be ≥ 0")
    rng = random.Random(spec.get("seed", 0))
    wants_hex = "{hex" in pattern
    for n in range(count):
        when = start + n * step
        hex_part = f"{rng.getrandbits(64):016x}" if wants_hex else ""
        try:
            yield when.strftime(pattern).format(n=n, hex=hex_part), when
        except (KeyError, IndexError, ValueError) as bad:
            raise SeedError("400 Bad Request", f"generate.pattern {pattern!r}: {bad!r}") from None


def call_app(app, environ):
    """Runs a WSGI app and returns (status, headers, body bytes)."""
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return captured["status"], captured["headers"], body


class Standin:
    def __init__(self, app):
        self.app = app
        self.model = _cloudwatch_model()
        self.lock = threading.Lock()
        self.faults = []  # dicts: operation, code and/or delay_seconds, message, status, times
        self.calls = []  # operation names in arrival order

    # -- control endpoints -------------------------------------------------------------
    def control(self, environ, start_response):
        path = environ["PATH_INFO"]
        method = environ["REQUEST_METHOD"]
        if path == "/_logscale/faults" and method == "POST":
            fault = json.loads(read_body(environ) or b"{}")
            if "operation" not in fault or ("code" not in fault and "delay_seconds" not in fault):
                return respond(
                    start_response, "400 Bad Request", {"error": "needs operation, and code or delay_seconds"}
                )
            if "code" in fault:
                fault.setdefault("message", f"injected {fault['code']}")
            fault.setdefault("status", 400)
            fault.setdefault("times", 1)
            with self.lock:
                self.faults.append(fault)
            return respond(start_response, "200 OK", {"queued": fault})
        if path == "/_logscale/faults" and method == "DELETE":
            with self.lock:
                self.faults.clear()
            return respond(start_response, "200 OK", {"cleared": True})
        if path == "/_logscale/calls":
            with self.lock:
                calls = [dict(c) for c in self.calls]
            return respond(start_response, "200 OK", {"calls": calls})
        if path == "/_logscale/objects" and method == "POST":
            try:
                request = json.loads(read_body(environ) or b"{}")
                return respond(start_response, "200 OK", self.seed_objects(request))
            except SeedError as error:
                return respond(start_response, error.status, {"error": str(error)})
            except ValueError as error:
                return respond(start_response, "400 Bad Request", {"error": f"not JSON: {error}"})
        return respond(start_response, "404 Not Found", {"error": f"no control endpoint {path}"})

    def seed_objects(self, request):
        """Writes many objects into an existing, unversioned bucket of moto's S3 backend, as if each
        had been PUT at its LastModified: no notifications, no call log entries. Request:

          {"bucket": "logs",
           "body": "text" | "body_base64": "...",        same bytes for every key (default empty)
           and either
           "keys": ["a.log", ...], "last_modified": "2024-05-01T12:00:00Z"
           | "keys": [{"key": "a.log", "last_modified": "..."}, ...]
           or
           "generate": {"pattern": "t/%Y/%m/%d/%H/obj-{n:06d}.log", "count": 200000,
                        "start": "2024-05-01T12:00:00Z", "step_seconds": -6, "seed": 0}}

        A generated object n is at start + n × step_seconds; its key is the pattern with that
        time's strftime fields, {n} (index, format specs allowed) and {hex} (16 random hex digits
        from seed). Answer: {"bucket", "written", "etag", "first_key", "last_key", "bucket_keys" (keys in
        the bucket now), "seconds"}. A key that already exists is replaced, as a PutObject would.
        """
        started = time.monotonic()
        if not isinstance(request, dict):
            raise SeedError("400 Bad Request", "needs a JSON object")
        bucket_name = request.get("bucket")
        if not bucket_name:
            raise SeedError("400 Bad Request", "needs bucket")
        if ("keys" in request) == ("generate" in request):
            raise SeedError("400 Bad Request", "needs exactly one of keys or generate")
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        try:
            bucket = backend.get_bucket(bucket_name)
        except MissingBucket:
            raise SeedError("404 Not Found", f"no bucket {bucket_name!r} (create it first)") from None
        if bucket.is_versioned:
            raise SeedError("400 Bad Request", "versioned buckets are not supported")
        batch = SeedBatch(bucket.name, backend.account_id, backend.region_name, backend.partition, seed_body(request))
        if "keys" in request:
            if not isinstance(request["keys"], list):
                raise SeedError("400 Bad Request", "keys must be a list")
            pairs = list(listed_keys(request))  # all checked before any is written
        else:
            pairs = generated_keys(request["generate"])
        written, first_key, last_key = 0, None, None
        for name, last_modified in pairs:
            bucket.keys.setlist(name, [SeededKey(name, last_modified, batch)])
            written += 1
            first_key = first_key or name
            last_key = name
        return {
            "bucket": bucket.name,
            "written": written,
            "etag": f'"{batch.etag}"',
            "first_key": first_key,
            "last_key": last_key,
            "bucket_keys": len(bucket.keys),
            "seconds": round(time.monotonic() - started, 3),
        }

    def take_fault(self, operation, body, entry=None):
        text = body.decode("utf-8", "replace")
        with self.lock:
            for fault in self.faults:
                wanted = fault.get("match")
                if wanted and wanted not in text and urllib.parse.quote(wanted) not in text:
                    continue
                if fault["operation"] == operation and fault["times"] > 0:
                    fault["times"] -= 1
                    if fault["times"] == 0:
                        self.faults.remove(fault)
                    taken = dict(fault)
                    break
            else:
                return None
        # A slow answer: this request's thread waits (the server is threaded, others go on),
        # then answers with the error, or normally when the fault has no code. The call log
        # entry says when the wait began and ended on this server's monotonic clock, so a test
        # can prove from the events themselves that slow calls overlapped, or that a client
        # stopped waiting first ("held_until" is absent while the answer is still held).
        delay = taken.get("delay_seconds", 0)
        if delay and entry is not None:
            with self.lock:
                entry["held_from"] = time.monotonic()
        time.sleep(delay)
        if delay and entry is not None:
            with self.lock:
                entry["held_until"] = time.monotonic()
        return taken if "code" in taken else None

    # -- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_logscale/"):
            return self.control(environ, start_response)
        if path == "/moto-api/reset":
            with self.lock:
                self.faults.clear()
                self.calls.clear()
        if path.startswith(CBOR_PREFIX):
            return self.cbor(environ, start_response, path[len(CBOR_PREFIX):])

        body = read_body(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.rsplit(".", 1)[-1] if target else query_action(environ, body)
        if not operation and environ.get("REQUEST_METHOD") == "PUT" and path.count("/") >= 2:
            # S3 (REST): a PUT to /bucket/key. The path stands in for the body in the call log,
            # so faults can match on the key.
            operation = "PutObject"
            body_for_match = path.encode()
            entry = self.note_call(operation, body_for_match, environ)
            fault = self.take_fault(operation, body_for_match, entry)
            if fault:
                return s3_error(start_response, fault)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return self.app(environ, start_response)
        s3_read = None if operation else s3_read_operation(environ)
        if s3_read:
            # S3 (REST) reads: the path and decoded query stand in for the body, so a test can
            # count the list calls on a bucket or prefix and prove an object was never fetched.
            described = f"{path}?{urllib.parse.unquote(environ.get('QUERY_STRING', ''))}".encode()
            entry = self.note_call(s3_read, described, environ)
            fault = self.take_fault(s3_read, described, entry)
            if fault:
                return s3_error(start_response, fault)
        if operation:
            entry = self.note_call(operation, body, environ)
            fault = self.take_fault(operation, body, entry)
            if fault and target:
                return respond(start_response, f"{fault['status']} Fault", {"__type": fault["code"], "message": fault["message"]})
            if fault:
                return query_error(start_response, fault)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    def note_call(self, operation, body, environ=None):
        """Logs a call; returns its entry, on which a slow answer notes when it was held."""
        entry = {"operation": operation, "body": body[:4000].decode("utf-8", "replace")}
        # The access key that signed it (SigV4's "Credential=KEY/date/region/service/..."), so a
        # test can prove which credentials a client resolved; moto itself accepts any.
        signed = re.search(r"Credential=([^/,\s]+)/", (environ or {}).get("HTTP_AUTHORIZATION", ""))
        if signed:
            entry["access_key"] = signed.group(1)
        with self.lock:
            self.calls.append(entry)
        return entry

    def cbor(self, environ, start_response, operation):
        raw = read_body(environ)
        if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        request = to_json_value(cbor2.loads(raw)) if raw else {}
        body = json.dumps(request).encode()
        entry = self.note_call(operation, body, environ)
        fault = self.take_fault(operation, body, entry)
        if fault:
            payload = {"__type": f"com.amazonaws.cloudwatch#{fault['code']}", "message": fault["message"]}
            return cbor_response(start_response, f"{fault['status']} Fault", payload)

        inner = dict(environ)
        inner.update(
            {
                "PATH_INFO": "/",
                "QUERY_STRING": "",
                "REQUEST_METHOD": "POST",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_AMZ_TARGET": JSON_TARGET + operation,
                "wsgi.input": io.BytesIO(body),
            }
        )
        inner.pop("HTTP_CONTENT_ENCODING", None)
        status, _headers, out = call_app(self.app, inner)
        try:
            answer = json.loads(out) if out.strip() else {}
        except ValueError:
            answer = {"__type": "InternalFailure", "message": out[:500].decode("utf-8", "replace")}
        if status.startswith("2"):
            shape = self.model.operation_model(operation).output_shape
            answer = shape_values(shape, answer)
        return cbor_response(start_response, status, answer)


def read_body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    return stream.read(length) if length else b""


def query_action(environ, body):
    """The operation of an awsQuery / ec2Query request (Auto Scaling, EC2, SNS)."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    if "x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
        return None
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    actions = form.get("Action")
    return actions[0] if actions else None


S3_LIST_PARAMETERS = {"prefix", "delimiter", "marker", "max-keys", "encoding-type"}
S3_OBJECT_SUBRESOURCES = {"acl", "tagging", "attributes", "uploadId", "legal-hold", "retention", "torrent"}


def s3_read_operation(environ):
    """ListObjectsV2, ListObjects, ListObjectVersions, GetObject or HeadObject for a path-style
    S3 read (signed for the s3 service), else None."""
    method = environ.get("REQUEST_METHOD")
    if method not in ("GET", "HEAD") or "/s3/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
        return None
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    bucket_and_key = environ.get("PATH_INFO", "").strip("/")
    if not bucket_and_key:
        return None  # ListBuckets
    if "/" in bucket_and_key:
        if method == "HEAD":
            return "HeadObject"
        return None if query.keys() & S3_OBJECT_SUBRESOURCES else "GetObject"
    if method != "GET":
        return None
    if query.get("list-type") == ["2"]:
        return "ListObjectsV2"
    if "versions" in query:
        return "ListObjectVersions"
    return None if query.keys() - S3_LIST_PARAMETERS else "ListObjects"


def respond(start_response, status, payload):
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def query_error(start_response, fault):
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{fault['code']}</Code><Message>{fault['message']}</Message>"
        "</Error><RequestId>standin-fault</RequestId></ErrorResponse>"
    ).encode()
    status = f"{fault['status']} Fault"
    start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])
    return [xml]


def s3_error(start_response, fault):
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{fault['code']}</Code><Message>{fault['message']}</Message>"
        "<RequestId>standin-fault</RequestId></Error>"
    ).encode()
    start_response(f"{fault['status']} Fault", [("Content-Type", "application/xml"), ("Content-Length", str(len(xml)))])
    return [xml]


def cbor_response(start_response, status, payload):
    data = cbor2.dumps(payload, datetime_as_timestamp=True, timezone=dt.timezone.utc)
    start_response(
        status,
        [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(data))),
        ],
    )
    return [data]


def watch_parent(pid):
    """Exits when the process that started us is gone, so no stand-in outlives its tests."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the chosen port here")
    parser.add_argument("--parent-pid", type=int, help="exit when this process ends")
    args = parser.parse_args()

    if os.environ.get("LOGSCALE_STANDIN_MOTO_LISTING") != "1":
        _hook_key_store_writes()
        install_indexed_listing()
    app = Standin(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    os.environ.setdefault("MOTO_PORT", str(port))
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, args.port_file)
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()
    print(f"standin ready http://{args.host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
