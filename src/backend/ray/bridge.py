# RustyRay's bridge to Ray: run by the driver's embedded interpreter (see
# `bridge.rs`), and, pickled by value with the functions below, in Ray's
# worker processes, where it starts the program itself in worker mode and
# speaks the framed protocol of `protocol.rs` with it over a Unix socket.
import collections
import functools
import itertools
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import types

import ray

# How long a call's thread waits in Ray at a time before it serves what the
# child sent meanwhile (see `_Child._get`).
_SLICE = 0.05


def _pack(parts):
    out = [struct.pack("<I", len(parts))]
    for part in parts:
        if isinstance(part, str):
            part = part.encode()
        out.append(struct.pack("<I", len(part)))
        out.append(part)
    body = b"".join(out)
    return struct.pack("<I", len(body)) + body


class _Frames:
    """The frames the child sends, read whole from its socket; `waiting`
    says, without waiting, whether one has (begun to) come."""

    def __init__(self, conn):
        self.conn = conn
        self.buffer = bytearray()
        # `poll`, not `select`: a Ray worker's descriptors may pass 1024.
        self.poller = select.poll()
        self.poller.register(conn, select.POLLIN)
        # What each read lands in: one buffer for every read (a fresh 64 KiB
        # `bytes` per read cost a Ray actor's thread more than the rest of
        # a small call's trip).
        self.landing = memoryview(bytearray(1 << 16))

    def _fill(self, size):
        """Whether `size` bytes are at hand (False: the socket closed)."""
        while len(self.buffer) < size:
            got = self.conn.recv_into(self.landing)
            if not got:
                return False
            self.buffer += self.landing[:got]
        return True

    def next(self):
        """The next frame's parts (None once the socket closes)."""
        if not self._fill(4):
            return None
        (n,) = struct.unpack_from("<I", self.buffer, 0)
        if n <= 1 << 16:
            if not self._fill(4 + n):
                return None
            with memoryview(self.buffer) as view:
                body = bytes(view[4 : 4 + n])
            del self.buffer[: 4 + n]
        else:
            # A large frame is read straight into a body of its own.
            body = bytearray(n)
            have = min(n, len(self.buffer) - 4)
            body[:have] = self.buffer[4 : 4 + have]
            del self.buffer[: 4 + have]
            with memoryview(body) as view:
                while have < n:
                    got = self.conn.recv_into(view[have:])
                    if not got:
                        return None
                    have += got
        (count,) = struct.unpack_from("<I", body, 0)
        return [bytes(part) for part in _texts(body, 4, count)]

    def waiting(self):
        return bool(self.buffer) or bool(self.poller.poll(0))


def _text(text):
    """A text as the protocol writes one inside an item: a length, then it."""
    if isinstance(text, str):
        text = text.encode()
    return struct.pack("<I", len(text)) + text


def _amounts(pairs):
    """Resource amounts as the protocol lists them (`a=1,b=2`), by name."""
    if isinstance(pairs, bytes):
        pairs = pairs.decode()
    amounts = {}
    for pair in filter(None, pairs.split(",")):
        name, amount = pair.rsplit("=", 1)
        amounts[name] = float(amount)
    return amounts


def _texts(data, at, count):
    """`count` texts from `data` at `at` (see `_text`), as bytes: a frame's
    parts are written the same way."""
    texts = []
    for _ in range(count):
        (size,) = struct.unpack_from("<I", data, at)
        texts.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return texts


class RustError(Exception):
    """A call that failed in the Rust program: `kind` is how RustyRay names
    the failure (`task_failed`, `actor_died`, ...), `message` its text."""

    rustyray = True

    def __init__(self, kind, task, message):
        super().__init__(kind, task, message)
        self.kind = kind
        self.task = task
        self.message = message

    def __str__(self):
        return self.message


def _die_with_parent():
    """In the child, before exec: killed when this Ray worker dies, even in
    the middle of a call (Linux's PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))
    except Exception:  # noqa: BLE001: elsewhere the socket's end does it
        pass


class _Child:
    """The program, started in worker mode by this Ray worker process.

    Besides the calls it is sent, it asks for Ray itself while they run
    (see `protocol.rs`): this keeps the Ray refs and actor handles it holds,
    by ids of this object's (`objects`, `actors`), makes calls of those
    actors for it, and tells it when each object it holds completes."""

    def __init__(self, command):
        self.command = command
        self.send_lock = threading.Lock()
        self.objects = {}
        self.actors = {}
        self.groups = {}
        self.reserved = None
        self.tasks = {}
        self.classes = {}
        self.keys = itertools.count(1)
        self.pending = None
        # Frames read while a wait was served (`_get`), for `request`.
        self.stash = collections.deque()
        host = sys.modules.get("_rustyray_host")
        if host is not None:
            # This Ray worker is the program itself (see `host.rs`): it
            # serves this trampoline on a thread of its own.
            self.proc = None
            node = ray.get_runtime_context().get_node_id()
            self.conn = socket.socket(fileno=host.connect(node))
            self.frames = _Frames(self.conn)
            return
        folder = tempfile.mkdtemp(prefix="rustyray-")
        path = os.path.join(folder, "worker.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        server.settimeout(0.05)
        full = dict(os.environ)
        full["RUSTYRAY_WORKER_SOCKET"] = path
        full["RUSTYRAY_RAY_NODE_ID"] = ray.get_runtime_context().get_node_id()
        self.proc = subprocess.Popen(
            command, env=full, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + 120
        try:
            while True:
                try:
                    conn, _ = server.accept()
                    break
                except socket.timeout:
                    if self.proc.poll() is not None:
                        raise RuntimeError(
                            f"RustyRay: the worker-mode program {command!r} exited with "
                            f"{self.proc.returncode} before it connected (does it call "
                            "rustyray::init, or #[rustyray::main], before anything else?)"
                        )
                    if time.monotonic() > deadline:
                        self.proc.kill()
                        raise RuntimeError(
                            f"RustyRay: the worker-mode program {command!r} did not connect "
                            "within 120 s"
                        )
        finally:
            server.close()
            os.unlink(path)
            os.rmdir(folder)
        conn.settimeout(None)
        self.conn = conn
        self.frames = _Frames(conn)

    def alive(self):
        return self.proc is None or self.proc.poll() is None

    def _send(self, parts):
        data = _pack(parts)
        with self.send_lock:
            self.conn.sendall(data)

    def request(self, parts, later=()):
        """Sends one request and waits for its reply (one call at a time),
        serving the program's own requests meanwhile; `later`: the objects
        the request names to watch once it is sent (see `_pack_inside`)."""
        self._send(parts)
        self._watch(later)
        while True:
            reply = self.stash.popleft() if self.stash else self._next_frame()
            if reply[0][:1] != b"q":
                return reply
            self._serve(reply, on_task_thread=True)

    def _next_frame(self):
        frame = self.frames.next()
        if frame is None:
            self.died()
        return frame

    def tell(self, parts):
        """Sends a message the child does not answer."""
        self._send(parts)

    def died(self):
        # The program died (a crash, an abort), or its serving in this
        # process ended: this Ray worker goes with it, so that Ray sees a
        # worker failure and applies its retries and restarts.
        if self.proc is None:
            what = "serving this Ray worker in its own process stopped"
        else:
            what = f"died (exit status {self.proc.wait()})"
        sys.stderr.write(
            f"RustyRay: the worker-mode program {self.command[0]} {what} while it ran a "
            "call; ending this Ray worker\n"
        )
        sys.stderr.flush()
        os._exit(1)

    def concurrent(self):
        """Lets several threads make requests at once: each carries an id,
        and a reader thread hands each reply to its caller."""
        self.pending = {}
        reader = threading.Thread(target=self._read, name="rustyray-replies", daemon=True)
        reader.start()

    def _read(self):
        while True:
            reply = self._next_frame()
            if reply[0][:1] == b"q":
                self._serve(reply)
                continue
            slot = self.pending.pop(reply[1], None)
            if slot is not None:
                slot[1] = [reply[0]] + reply[2:]
                slot[0].set()

    def request_concurrent(self, kind, parts, later=()):
        slot = [threading.Event(), None]
        key = str(next(self.keys)).encode()
        self.pending[key] = slot
        self._send([kind, key] + parts)
        self._watch(later)
        slot[0].wait()
        return slot[1]

    # The arguments and results of calls.

    def inside(self, args):
        """The arguments as the child takes them, the request's mark, and
        the objects to watch once the request is sent: an argument that
        holds refs or actor handles arrives from Ray as a pair (its bytes,
        what they name), which Ray leaves unresolved; the child gets its
        bytes, and what every such argument names, in order, in one more
        part (`_pack_inside`). Marked "r" then, else "" and no part. An
        argument that is an object failed inside a result
        (`_unpack_value`) fails the call with its error, as Ray fails a
        task whose argument failed."""
        if all(type(arg) is bytes for arg in args):
            return "", [], args, []
        named = []
        plain = []
        for arg in args:
            if isinstance(arg, RustError):
                raise arg
            if type(arg) is tuple:
                data, inside = arg
                named.extend(inside)
                plain.append(data)
            else:
                plain.append(arg)
        later = []
        return "r", [self._pack_inside(named, later)], plain, later

    def _pack_inside(self, named, later):
        """What a value's refs and handles name, as `write_value` writes
        them: each object kept here for the child, `o` and its id (the
        child learns its value when Ray completes it, and until then may
        wait for it, pass it on or drop it, as Ray's borrowers do); each
        actor (Ray's handle, its groups' names and its type's name) kept
        here, `a` and its id; each placement group (Ray's own, or the pair
        `_group_pair` makes) kept here, `g`, its id and the id of an object
        that completes once it is reserved. The
        objects are watched (`_watch`) only once the frame that names them
        is sent (`later`): the child must know an object before it reads
        that it is complete."""
        from ray.util.placement_group import PlacementGroup

        out = [struct.pack("<I", len(named))]
        for item in named:
            key = str(next(self.keys)).encode()
            if type(item) is tuple and len(item) == 3:
                self.actors[key] = item
                packed = b"a" + _text(key) + _text(item[1]) + _text(item[0]._actor_id.hex())
            elif type(item) is tuple or isinstance(item, PlacementGroup):
                # The group, and an object that completes once it is
                # reserved: the one it came with, if any (see `_group_pair`).
                group, ready = item if type(item) is tuple else (item, None)
                self.groups[key] = group
                ready_key = str(next(self.keys)).encode()
                ready = ready if ready is not None else self._reserved(group)
                self.objects[ready_key] = ready
                later.append((ready_key, ready))
                packed = b"g" + _text(key) + _text(ready_key)
            else:
                self.objects[key] = item
                later.append((key, item))
                packed = b"o" + _text(key)
            out.append(struct.pack("<I", len(packed)))
            out.append(packed)
        return b"".join(out)

    def _pack_value(self, value, later):
        """A Rust value from Ray (bytes, or its bytes and what is inside) as
        `write_value` writes a value (see `_pack_inside` for `later`)."""
        if type(value) is tuple:
            data, named = value
            return self._pack_inside(named, later) + data
        return b"\0\0\0\0" + value

    def unpack_value(self, data):
        """A value the child wrote (`write_value`) as Ray holds it: its
        bytes, or its bytes and what is inside, each object by value put
        into Ray's object store (owned by this worker)."""
        (count,) = struct.unpack_from("<I", data, 0)
        off = 4
        named = []
        for _ in range(count):
            (size,) = struct.unpack_from("<I", data, off)
            off += 4
            item = data[off : off + size]
            off += size
            tag = item[:1]
            if tag == b"v":
                named.append(ray.put(self.unpack_value(item[1:])))
            elif tag == b"e":
                texts = [text.decode() for text in _texts(item, 1, 3)]
                named.append(ray.put(RustError(*texts)))
            elif tag == b"o":
                named.append(self.objects[_texts(item, 1, 1)[0]])
            elif tag == b"g":
                group, ready = _texts(item, 1, 2)
                named.append(self._group_pair(self.groups[group], self.objects.get(ready)))
            else:
                named.append(self.actors[_texts(item, 1, 1)[0]])
        rest = data[off:]
        return (rest, named) if count else rest

    def _reserved(self, group):
        """A ref that completes (with empty bytes) once `group` is reserved."""
        if self.reserved is None:
            self.reserved = ray.remote(num_cpus=0)(_reserved)
        return self.reserved.remote(group.ready())

    def _group_pair(self, group, ready):
        """A placement group inside a value for Ray: the pair of the group
        and a ref that completes once it is reserved (`ready`, or a new
        one), so that a driver given it needs to start no task (actors are
        triples, see `_pack_inside`)."""
        return (group, ready if ready is not None else self._reserved(group))

    # The program's own requests.

    def _serve(self, request, on_task_thread=False):
        """Serves a request of the program's (`q`-marked, see `protocol.rs`).
        A wait runs on the thread of the call it came in (`on_task_thread`):
        Ray counts a worker as blocked only while its task's own thread
        waits; from the reader of a concurrent actor, on a thread of its
        own."""
        kind = request[0][1:]
        if kind == b"free":
            for key in request[1:]:
                self.objects.pop(key, None)
        elif kind == b"freeactor":
            self.actors.pop(request[1], None)
        elif kind == b"freegroup":
            self.groups.pop(request[1], None)
        elif kind == b"removegroup":
            group = self.groups.get(request[1])
            if group is not None:
                remove_placement_group(group)
        elif kind == b"cancel":
            ref = self.objects.get(request[1])
            if ref is not None:
                cancel(ref)
        elif kind == b"kill":
            entry = self.actors.get(request[1])
            if entry is not None:
                ray.kill(entry[0], no_restart=request[2] == b"1")
        elif kind == b"get" and on_task_thread:
            self._answer(request[1], functools.partial(self._get, serving=True), request[2:])
        elif kind == b"get":
            self._answer_elsewhere(request, self._get)
        elif kind == b"acall":
            self._answer(request[1], self._actor_call, request[2:])
        elif kind == b"astream":
            self._answer(request[1], self._actor_stream, request[2:])
        elif kind == b"next":
            # Waits for the actor's next item: never on a call's thread,
            # whose other requests must go on meanwhile.
            self._answer_elsewhere(request, self._next)
        elif kind == b"call":
            self._answer(request[1], self._call, request[2:])
        elif kind == b"create":
            self._answer(request[1], self._create, request[2:])
        elif kind == b"getactor":
            self._answer(request[1], self._get_actor, request[2:])
        elif kind == b"group":
            self._answer(request[1], self._group, request[2:])
        else:
            self._send([b"rerr", request[1], "task_failed", "", f"unknown request {kind!r}"])

    def _answer_elsewhere(self, request, serve):
        """Answers `request` by `serve`, which waits, on a thread of its own."""
        waiting = threading.Thread(
            target=self._answer, args=(request[1], serve, request[2:]), daemon=True
        )
        waiting.start()

    def _answer(self, key, serve, parts):
        try:
            answer = [b"re", key, *serve(parts)]
        except Exception as error:  # noqa: BLE001: the request's failure
            answer = [b"rerr", key, *_classify(error)]
        self._send(answer)

    def _get(self, parts, serving=False):
        """Waits until as many of the objects the program is about to block
        on as `parts[1]` says are complete (for at most the seconds
        `parts[0]` says, if any): for all of them in Ray's `get` (which
        returns early on a failure), for fewer in Ray's `wait`. Both count
        this worker as blocked (a task it waits for may need its CPU). A
        stream's generator among them is ready when its next item is.
        Their values reach it by `_push`, a stream's items by `qnext`.

        `serving`: on the thread that reads the child's frames (a call's,
        so that Ray lends its CPU), which waits a slice at a time and
        serves in between what the child sent meanwhile (a cancel, say,
        which what it waits for may need), its waits on threads of their
        own; frames for `request` are kept for it."""
        timeout = float(parts[0]) if parts[0] else None
        ready = int(parts[1])
        refs = [self.objects[key] for key in parts[2:] if key in self.objects]
        if not refs:
            return []
        # A stream's generator is ready when its next item is.
        streams = any(isinstance(ref, ray.ObjectRefGenerator) for ref in refs)
        deadline = None if timeout is None else time.monotonic() + timeout

        want = min(ready, len(refs))

        def wait(seconds):
            try:
                if want < len(refs) or streams:
                    got, _ = ray.wait(refs, num_returns=want, timeout=seconds)
                    return len(got) >= want
                ray.get(refs, timeout=seconds)
            except ray.exceptions.GetTimeoutError:
                return False
            except Exception:  # noqa: BLE001: a failure reaches it by `_push`
                pass
            return True

        if not serving:
            wait(timeout)
            return []
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return []
            if wait(_SLICE if left is None else min(_SLICE, left)):
                return []
            while self.frames.waiting():
                frame = self._next_frame()
                if frame[0][:1] == b"q":
                    self._serve(frame)
                else:
                    self.stash.append(frame)

    def _call(self, parts):
        """Submits a task the program's call submitted (see `protocol.rs`)."""
        keys, parts = parts[0].split(b","), parts[1:]
        function, split = parts[0].decode(), parts[1].decode()
        count = int(parts[2])
        options = {
            "num_returns": count,
            "name": parts[3].decode(),
            "num_cpus": float(parts[4]),
            "max_retries": int(parts[5]),
            "retry_exceptions": parts[6] == b"1",
        }
        resources = _amounts(parts[7])
        if resources:
            options["resources"] = resources
        key = (function, split)
        remote = self.tasks.get(key)
        if remote is None:
            remote = self.tasks[key] = ray.remote(_task(tuple(self.command), function, split))
        options = self._placed(options, parts[8], parts[9])
        refs = remote.options(**options).remote(*[self._arg(arg) for arg in parts[10:]])
        self._watch(zip(keys, [refs] if count == 1 else refs))
        return []

    def _actor_call(self, parts):
        keys, parts = parts[0].split(b","), parts[1:]
        handle = self.actors[parts[0]][0]
        outputs = int(parts[2])
        remote = actor_method(
            handle,
            parts[1].decode(),
            outputs,
            parts[3].decode() or None,
            int(parts[4]) if parts[4] else None,
            parts[5] == b"1",
        )
        refs = remote(*[self._arg(arg) for arg in parts[6:]])
        self._watch(zip(keys, [refs] if outputs == 1 else refs))
        return []

    def _actor_stream(self, parts):
        """Calls a streaming method of a Ray actor the trampoline holds: its
        generator kept under the program's id (`parts[0]`), for `qnext`,
        `qcancel` and `qfree`."""
        key, handle = parts[0], self.actors[parts[1]][0]
        group = parts[3].decode() or None
        backpressure = int(parts[4]) if parts[4] else None
        remote = actor_stream(handle, group, backpressure)
        self.objects[key] = remote(parts[2].decode(), *[self._arg(arg) for arg in parts[5:]])
        return []

    def _next(self, parts):
        """The next item of the stream kept under `parts[0]`: `item` and its
        bytes, or `end`; the error that ended it is raised."""
        generator = self.objects[parts[0]]
        try:
            return [b"item", ray.get(next(generator))]
        except StopIteration:
            return [b"end"]

    def _create(self, parts):
        """Creates a Ray actor the program's call created (see
        `protocol.rs`): its id here."""
        texts = [part.decode() for part in parts[:12]]
        actor, constructor, methods = texts[0], texts[1], list(filter(None, texts[2].split(",")))
        options = {
            "num_cpus": float(texts[3]),
            "max_restarts": int(texts[4]),
            "max_task_retries": int(texts[5]),
        }
        concurrency = int(texts[6])
        if concurrency > 1:
            options["max_concurrency"] = min(concurrency, 64)
        groups = {}
        for pair in filter(None, texts[7].split(",")):
            name, limit = pair.rsplit("=", 1)
            groups[name] = min(int(limit), 64)
        if groups:
            options["concurrency_groups"] = groups
        if texts[8]:
            options["name"] = texts[8]
            options["namespace"] = texts[9]
            options["get_if_exists"] = texts[10] == "1"
        resources = _amounts(texts[11])
        if resources:
            options["resources"] = resources
        options = self._placed(options, parts[12], parts[13])
        args = [self._arg(arg) for arg in parts[14:]]
        handle = self.create_actor(actor, constructor, methods, options, args)
        key = str(next(self.keys)).encode()
        self.actors[key] = (handle, ",".join(sorted(groups)), actor.rsplit("::", 1)[-1])
        return [key, handle._actor_id.hex()]

    def create_actor(self, actor, constructor, methods, options, args):
        groups = options.pop("concurrency_groups", {})
        cls = _actor_class(actor, methods, groups, self.classes)
        concurrency = options.get("max_concurrency", 1)
        return cls.options(**options).remote(
            tuple(self.command), actor, constructor, concurrency, groups, *args
        )

    def _placed(self, options, group, bundle):
        """`options` placing a task or an actor in the group this holds
        under `group` (none if empty), in `bundle` (any if empty)."""
        if not group:
            return options
        return in_placement_group(options, self.groups[group], int(bundle) if bundle else -1)

    def _get_actor(self, parts):
        """The named actor: its id here, its type, its groups' names and
        Ray's id of it."""
        handle, actor, groups = get_actor(parts[0].decode(), parts[1].decode())
        names = ",".join(name for name, _ in groups)
        key = str(next(self.keys)).encode()
        self.actors[key] = (handle, names, actor.rsplit("::", 1)[-1])
        return [key, actor, names, handle._actor_id.hex()]

    def _group(self, parts):
        """Creates a placement group the program's call asked for: kept
        under the program's id (`parts[0]`), with an object under
        `parts[1]` that completes once Ray has reserved it. Like one made
        by the driver, it lives until removed or until the job ends."""
        key, ready_key, strategy = parts[0], parts[1], parts[2].decode()
        group = placement_group([_amounts(part) for part in parts[3:]], strategy)
        self.groups[key] = group
        self._watch([(ready_key, self._reserved(group))])
        return []

    def _arg(self, part):
        """An argument of the program's request: a ref (`o`) or a value."""
        if part[:1] == b"o":
            return self.objects[part[1:]]
        return self.unpack_value(part[1:])

    def _watch(self, objects):
        """Keeps each object of `objects` (key, ref) for the program under
        its key (it knows each by then): it learns each object when Ray
        completes it."""
        for key, ref in objects:
            self.objects[key] = ref
            ref._on_completed(functools.partial(self._push, key))

    def _push(self, key, value):
        try:
            if type(value) is bytes:
                self._send([b"done", key, b"\0\0\0\0" + value])
            elif type(value) is tuple:
                later = []
                self._send([b"done", key, self._pack_value(value, later)])
                self._watch(later)
            else:
                self._send([b"fail", key, *_classify(value)])
        except OSError:
            pass  # the program is gone


def _state():
    state = sys.modules.get("_rustyray_worker_state")
    if state is None:
        state = types.ModuleType("_rustyray_worker_state")
        state.child = None
        sys.modules["_rustyray_worker_state"] = state
    return state


def _child(command):
    """This Ray worker's worker-mode program, started if not running."""
    state = _state()
    if state.child is None or not state.child.alive():
        state.child = _Child(command)
    return state.child


def _named(function, name):
    """`function`, named for Ray (its tasks' names, the dashboard's) by the
    last segment of the Rust path `name`."""
    short = name.rsplit("::", 1)[-1].rsplit(".", 1)[-1]
    function.__name__ = short
    function.__qualname__ = short
    return function


def _outcome(reply, child=None, decode=None):
    """A reply's values (one, or a tuple of several), each read by `decode`
    if given (by `child.unpack_value` for values holding refs), or its
    error raised."""
    kind = reply[0].decode()
    if kind in ("ok", "exit", "okv", "exitv"):
        if kind.endswith("v"):
            decode = child.unpack_value
        values = reply[1:] if decode is None else [decode(value) for value in reply[1:]]
        return values[0] if len(values) == 1 else tuple(values)
    raise RustError(reply[1].decode(), reply[2].decode(), reply[3].decode())


def _attempt():
    """The running task's attempt as the protocol's `attempt` part says it:
    Ray's number of it (0: the first; Ray counts its retries), `/`, and
    Ray's hex task id; "0" where Ray does not say."""
    try:
        worker = ray._private.worker.global_worker
        number = worker.core_worker.get_current_task_attempt_number()
        return f"{number}/{worker.current_task_id.hex()}"
    except Exception:  # noqa: BLE001: not in a task, or another Ray
        return "0"


def _actor_id():
    """The hex id of the actor this worker holds ("" where Ray does not
    say)."""
    try:
        return ray.get_runtime_context().get_actor_id() or ""
    except Exception:  # noqa: BLE001: not in an actor, or another Ray
        return ""


def _task(command, function, split):
    """The trampoline of the RustyRay function `function` (one Ray remote
    function each, so that a call carries only its own arguments): runs it
    in this worker's worker-mode program, on the encoded arguments, as the
    attempt Ray runs (Ray does the retrying); `split` ("" or the count)
    asks for the returned `Vec` as one object per element."""

    def task(*args):
        child = _child(command)
        mark, inside, args, later = child.inside(args)
        reply = child.request(
            [mark + "call", *inside, function, _attempt(), split, *args], later
        )
        return _outcome(reply, child)

    return _named(task, function)


def _items(child, ask, key=b""):
    """Yields a started stream's items, asking the child for each (`ask`
    sends `next`): the child's generator runs at most its backpressure
    ahead of this one, which Ray pauses as the driver's backpressure says.
    Closed early (cancelled), it tells the child to drop the stream."""
    finished = False
    try:
        while True:
            reply = ask()
            kind = reply[0]
            if kind == b"item":
                yield reply[1]
            elif kind == b"end":
                finished = True
                return
            else:
                finished = True
                _outcome(reply)
    finally:
        if not finished and child.alive():
            child.tell(["sdrop", key])


def _stream(command, function):
    """The trampoline of the RustyRay streaming generator `function` (Ray's
    `num_returns="streaming"`): yields the encoded items of `function`
    running in this worker's worker-mode program."""

    def stream(*args):
        child = _child(command)
        mark, inside, args, later = child.inside(args)
        _outcome(child.request([mark + "stream", *inside, function, _attempt(), *args], later))
        yield from _items(child, lambda: child.request(["next"]))

    return _named(stream, function)


class RustActor:
    """The trampoline of every RustyRay actor. Its Ray worker is the
    program itself (`_host_env`, `host.rs`), which holds the actor; where
    Ray ran it in Python instead, it holds a worker-mode program of its own
    that does. Each actor type's Ray class derives from it with a method of
    each of the type's methods (`_actor_class`); `_rustyray_call` calls any
    method by name."""

    def __init__(self, command, actor, constructor, concurrency, groups, *args):
        self.actor = actor
        self.groups = sorted(groups.items())
        self.child = _Child(command)
        described = ",".join(f"{name}={limit}" for name, limit in self.groups)
        mark, inside, args, later = self.child.inside(args)
        reply = self.child.request(
            [
                mark + "create",
                *inside,
                actor,
                constructor,
                str(concurrency),
                described,
                _actor_id(),
                *args,
            ],
            later,
        )
        _outcome(reply)
        # A call without refs in its arguments, of an actor that runs one
        # call at a time, runs on this thread, in this process, when it is
        # the program (`_rustyray_host.method`). Other calls go to the
        # program's serving threads, each under its request's id (Ray runs
        # a concurrent actor's calls on several threads at once, a pool per
        # concurrency group), and a reader thread hands out the replies and
        # serves the program's own requests meanwhile.
        host = sys.modules.get("_rustyray_host")
        one_at_a_time = concurrency == 1 and not groups
        self.direct = host.method if host is not None and one_at_a_time else None
        self.child.concurrent()
        self.exiting = False

    def _rustyray_describe(self):
        """The actor's type and concurrency groups (name, limit)."""
        return self.actor, self.groups

    def _rustyray_call(self, method, *args):
        """Calls `method` of the actor, as the attempt Ray runs."""
        attempt = _attempt()
        mark, inside, args, later = self.child.inside(args)
        if self.direct is not None and not mark:
            reply = self.direct([b"method", method.encode(), attempt.encode(), *args])
        else:
            reply = self.child.request_concurrent(
                mark + "cmethod", [*inside, method, attempt, *args], later
            )
        if reply[0] in (b"exit", b"exitv") and not self.exiting:
            # The actor called `exit_actor()`: this call returns its value,
            # and the Ray actor ends (for good, its resources freed) by a
            # call Ray runs after this one.
            self.exiting = True
            ray.get_runtime_context().current_actor.__ray_terminate__.remote()
        return _outcome(reply, self.child)

    def _rustyray_stream(self, method, *args):
        """A streaming method's encoded items."""
        child = self.child
        mark, inside, args, later = child.inside(args)
        reply = child.request_concurrent(mark + "csmethod", [*inside, method, *args], later)
        _outcome(reply)
        key = reply[1]
        yield from _items(child, lambda: child.request_concurrent("cnext", [key]), key)


def _method(name):
    """The Ray method of the Rust method `name`."""

    def method(self, *args):
        return self._rustyray_call(name, *args)

    return _named(method, name)


def python_call(module, name, packed):
    """Calls a Python function for RustyRay: arguments and result as
    MessagePack."""
    import importlib

    import msgpack

    function = getattr(importlib.import_module(module), name)
    return msgpack.packb(function(*msgpack.unpackb(packed)), use_bin_type=True)


# For Python programs: Rust functions called with MessagePack values.


def _msgpack_task(command, function):
    """The trampoline of `function` for a Python caller: Python values in
    and out, MessagePack between here and the worker-mode program."""

    def task(*args):
        request = ["mcall", function, _attempt(), "", _packed(args)]
        return _unpacked(_child(command).request(request))

    return _named(task, function)


def _unpacked(reply):
    """A MessagePack reply's values (one, or a tuple), or its error raised."""
    import msgpack

    return _outcome(reply, decode=lambda value: msgpack.unpackb(value, raw=False))


def _packed(args):
    import msgpack

    return msgpack.packb(list(args), use_bin_type=True)


class _PythonsRustActor:
    """A Rust actor held for a Python program: its worker-mode program
    holds it; `call(method, *args)` calls a method with MessagePack values,
    one call at a time."""

    program = None
    actor = None
    constructor = None

    def __init__(self, *args):
        self._child = _Child(self.program)
        reply = self._child.request(
            ["mcreate", self.actor, self.constructor, "1", "", _actor_id(), _packed(args)]
        )
        _outcome(reply)

    def call(self, method, *args):
        """The method `method`'s result on `args`."""
        reply = self._child.request(["mmethod", method, _attempt(), _packed(args)])
        return _unpacked(reply)


def rust_actor(program, actor, constructor="new", **options):
    """For a Python Ray program: the Rust actor type `actor` (its registry
    name, `module::Type`) of the RustyRay program `program`, as a Ray actor
    class made with its constructor `constructor`: `Counter.remote(*args)`
    creates one, `handle.call.remote("incr", 1)` calls a method, with
    values MessagePack carries. `options` are `ray.remote`'s."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    body = {"program": tuple(program), "actor": actor, "constructor": constructor}
    cls = _named(type("RustActor", (_PythonsRustActor,), body), actor)
    return ray.remote(**options)(cls) if options else ray.remote(cls)


def rust_function(program, function, **options):
    """For a Python Ray program: the Rust function `function` (its registry
    name, `module::name`) of the RustyRay program `program` (its command
    line, a list: the binary's path and its arguments; the binary must be
    reachable on every node), as a Ray remote function whose arguments and
    result are values MessagePack carries (a struct is a list of its
    fields). `options` are `ray.remote`'s. Import this file as a module
    (`from bridge import rust_function` with its folder on `sys.path`)."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    task = _msgpack_task(tuple(program), function)
    return ray.remote(**options)(task) if options else ray.remote(task)


# Driver side.

_remote_python = None
_remote_reserved = None


def init(address, namespace):
    kwargs = {"namespace": namespace, "log_to_driver": True}
    if address != "local":
        kwargs["address"] = address
    ray.init(**kwargs)
    global _remote_python, _remote_reserved
    _remote_python = ray.remote(python_call)
    _remote_reserved = ray.remote(num_cpus=0)(_reserved)
    # Ray's functions and classes are made anew for each connection.
    _tasks.clear()
    _actor_classes.clear()
    return ray.get_runtime_context().get_node_id()


def shutdown():
    ray.shutdown()


def _classify(error):
    if getattr(error, "rustyray", False):
        # An object a Ray worker put for a failed one inside a result.
        return (error.kind, error.task, error.message)
    cause = getattr(error, "cause", None)
    if getattr(cause, "rustyray", False):
        return (cause.kind, cause.task, cause.message)
    exceptions = ray.exceptions
    if isinstance(error, exceptions.TaskCancelledError):
        return ("cancelled", "", str(error))
    if isinstance(error, (exceptions.ActorDiedError, exceptions.ActorUnavailableError)):
        return ("actor_died", "", str(error))
    if isinstance(error, exceptions.ObjectLostError):
        return ("object_lost", "", str(error))
    if cause is not None and not isinstance(cause, exceptions.RayError):
        # A Python function's own exception.
        return ("task_failed", "", f"{type(cause).__name__}: {cause}")
    return ("task_failed", "", str(error))


def call_python(module, name, packed):
    return _remote_python.options(name=f"{module}.{name}").remote(module, name, packed)


_tasks = {}


def _remote(key, make):
    """The Ray remote function of a RustyRay one (`key`), made once."""
    remote = _tasks.get(key)
    if remote is None:
        remote = _tasks[key] = ray.remote(make())
    return remote


def variant(command, function, split, num_returns, name, options):
    """The `remote` of `function`'s trampoline with these options (the
    caller caches it: Ray's `.options(..)` costs more than a small task's
    submission)."""
    remote = _remote(("task", function, split), lambda: _task(tuple(command), function, split))
    return remote.options(num_returns=num_returns, name=name, **options).remote


def _streaming(backpressure):
    options = {"num_returns": "streaming"}
    if backpressure is not None:
        options["_generator_backpressure_num_objects"] = backpressure
    return options


def stream_variant(command, function, name, options, backpressure):
    """The `remote` of the streaming generator `function`'s trampoline
    with these options."""
    remote = _remote(("stream", function), lambda: _stream(tuple(command), function))
    return remote.options(name=name, **_streaming(backpressure), **options).remote


def actor_stream(handle, group, backpressure):
    """An actor handle's `remote` for a streaming method's call."""
    options = _streaming(backpressure)
    if group is not None:
        options["concurrency_group"] = group
    return handle._rustyray_stream.options(**options).remote


def stream_next(generator):
    """Waits for a stream's next item: ("item", its bytes), ("end", None),
    or ("error", what `_classify` makes of the error that ended it)."""
    try:
        return ("item", ray.get(next(generator)))
    except StopIteration:
        return ("end", None)
    except Exception as error:  # noqa: BLE001: the error ends the stream
        return ("error", _classify(error))


def actor_method(handle, name, num_returns, group, max_retries, retry_exceptions):
    """An actor handle's `remote` for calls of the method `name` with
    `num_returns` results, in the concurrency group `group` (None: the
    default one), retried by Ray as `max_retries` (None: the actor's
    `max_task_retries`) and `retry_exceptions` say: its own Ray method, or
    `_rustyray_call` naming it."""
    method = None if name.startswith("_") else getattr(handle, name, None)
    by_name = method is None
    if by_name:
        method = handle._rustyray_call
    options = {}
    if num_returns != 1:
        options["num_returns"] = num_returns
    if group is not None:
        options["concurrency_group"] = group
    if max_retries is not None:
        options["max_task_retries"] = max_retries
    if retry_exceptions:
        options["retry_exceptions"] = True
    if options:
        method = method.options(**options)
    if by_name:
        return functools.partial(method.remote, name)
    return method.remote


def put(value):
    return ray.put(value)


def _reserved(_group):
    """Run once a placement group is reserved: its ready ref as bytes."""
    return b""


def placement_group(bundles, strategy):
    """A Ray placement group of `bundles` (each resource name to amount)."""
    from ray.util.placement_group import placement_group as create

    return create(bundles, strategy=strategy)


def placement_group_ready(group):
    """A ref that completes (with empty bytes) once `group` is reserved."""
    return _remote_reserved.remote(group.ready())


def remove_placement_group(group):
    from ray.util.placement_group import remove_placement_group as remove

    remove(group)


def in_placement_group(options, group, bundle):
    """`options` with the scheduling strategy that places a task or an actor
    in `bundle` of `group` (-1: any bundle)."""
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
        placement_group=group, placement_group_bundle_index=bundle
    )
    return options


def resources(available):
    """Ray's `cluster_resources()` (or `available_resources()`), as name to
    amount; a resource with nothing free is listed with 0.0."""
    total = ray.cluster_resources()
    if not available:
        return {str(k): float(v) for k, v in total.items()}
    free = ray.available_resources()
    return {str(k): float(free.get(k, 0.0)) for k in total}


def cancel(ref):
    """Cancels a task (forcibly: a trampoline waiting for its worker cannot
    be interrupted), an actor call or a stream (which Ray cancels only
    without force)."""
    try:
        ray.cancel(ref, force=True)
    except Exception:  # noqa: BLE001: finished, or not to be forced
        try:
            ray.cancel(ref)
        except Exception:  # noqa: BLE001: a finished task cannot be cancelled
            pass


# The concurrency group of `RustActor._rustyray_describe`: a thread of its
# own, so that `get_actor` is answered while the actor's calls are busy.
_DESCRIBE = "rustyray-describe"

_actor_classes = {}


def _actor_class(actor, methods, groups, made):
    """The Ray actor class of the Rust actor type `actor`: `RustActor` with
    a method of each of `methods`, these concurrency groups (Ray takes them
    when the class is made, not in `.options(..)`), and `_DESCRIBE`; kept
    in `made` (the driver's, or a worker's own: a worker's trampoline
    carries no class the driver made)."""
    key = (actor, tuple(methods), tuple(sorted(groups.items())))
    cls = made.get(key)
    if cls is None:
        body = {name: _method(name) for name in methods if not name.startswith("_")}
        cls = _named(type("RustActor", (RustActor,), body), actor)
        cls = made[key] = ray.remote(concurrency_groups={**groups, _DESCRIBE: 1})(cls)
    return cls


def create_actor(command, actor, constructor, methods, options, args):
    """Creates the Ray actor of the Rust actor type `actor` (see
    `_actor_class`)."""
    groups = options.pop("concurrency_groups", {})
    cls = _actor_class(actor, methods, groups, _actor_classes)
    options["runtime_env"] = _host_env(command)
    return cls.options(**options).remote(
        command,
        actor,
        constructor,
        options.get("max_concurrency", 1),
        groups,
        *args,
    )


def _host_env(command):
    """The runtime environment of a Ray worker that is the program itself
    (see `host.rs`): Ray execs its `py_executable` with the worker's
    arguments appended, which a shell moves into the environment before it
    execs the program as `command`."""
    import shlex

    script = 'export RUSTYRAY_RAY_HOST_ARGV="$(printf \'%s\\n\' "$@")"; exec ' + shlex.join(
        command
    )
    site_dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    return {
        "py_executable": "/bin/sh -c " + shlex.quote(script) + " rustyray-host",
        "env_vars": {
            "RUSTYRAY_RAY_HOST_PYTHON": sys.executable,
            "RUSTYRAY_RAY_HOST_SITE": "\n".join(site_dirs),
        },
    }


def get_actor(name, namespace):
    """The named actor's handle, its type and its concurrency groups."""
    handle = ray.get_actor(name, namespace=namespace)
    describe = handle._rustyray_describe.options(concurrency_group=_DESCRIBE)
    actor, groups = ray.get(describe.remote())
    return handle, actor, groups


def kill(handle, no_restart):
    ray.kill(handle, no_restart=no_restart)
