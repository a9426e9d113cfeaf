#!/usr/bin/python3
"""Throughput of a page served from memcached (docs/benchmarks.md, "Serving pages from
memcached").

One memcached, one 4 KiB page. Three servers on loopback, each with a configuration
generated here in a temporary directory and stopped by PID at the end:
  - httpd (event MPM) with SetHandler memcache-pass,
  - the same httpd serving the same 4 KiB as a static file,
  - nginx with memcached_pass.
  - the same nginx serving the page as a static file.
For each: requests/s with wrk (keep-alive, interleaved rounds), then the user-space
instructions each server executes per request, with callgrind on a single process
(httpd -X; nginx with master_process off): two wrk runs of different lengths on one
connection, the difference of callgrind's totals divided by the difference of the
request counts, so start-up and shutdown cancel out.

Usage: scripts/bench-pass.py [--build build] [--reps 3] [--seconds 5] [--connections 16]
                             [--no-callgrind]
Needs apache2, memcached, nginx, wrk and valgrind (scripts/install-deps.sh nginx
valgrind wrk), and a build of the module (cmake --build build --target mod_memcache).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

MODULES = "/usr/lib/apache2/modules"
KEY = "/bench/page.html?"
PAGE_SIZE = 4096


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args[0]} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def http_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def stop(proc, sig=signal.SIGTERM, timeout=20):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wrk(port, path, seconds, connections, threads):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
                          f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rps or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError("wrk: " + out)
    return int(m.group(1)), float(rps.group(1))


class Servers:
    def __init__(self, build, tmp):
        self.tmp = tmp
        self.module = os.path.abspath(os.path.join(build, "src/module/mod_memcache.so"))
        if not os.path.exists(self.module):
            sys.exit(f"{self.module} not found: cmake --build {build} --target mod_memcache")
        self.procs = []
        os.chmod(tmp, 0o777)  # httpd -X writes its callgrind file as nobody
        self.mc_port = free_port()
        mc = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(self.mc_port), "-U", "0",
                               "-u", "nobody", "-t", "1", "-m", "64"], start_new_session=True)
        self.procs.append(mc)
        wait_port(self.mc_port, mc)
        self.page = (b"<html><body>" + b"x" * PAGE_SIZE)[:PAGE_SIZE - 15] + b"</body></html>\n"
        assert len(self.page) == PAGE_SIZE
        with socket.create_connection(("127.0.0.1", self.mc_port)) as s:
            s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (KEY.encode(), len(self.page), self.page))
            assert s.recv(100).startswith(b"STORED")
        os.makedirs(os.path.join(tmp, "htdocs/static"), exist_ok=True)
        with open(os.path.join(tmp, "htdocs/static/page.html"), "wb") as f:
            f.write(self.page)

    def httpd_conf(self, port, one_process):
        t = self.tmp
        mpm = ("<IfModule mpm_event_module>\n  StartServers 1\n  ServerLimit 1\n"
               "  ThreadsPerChild 32\n  ThreadLimit 32\n  MaxRequestWorkers 32\n"
               "  MinSpareThreads 1\n  MaxSpareThreads 32\n</IfModule>\n")
        conf = f"""ServerRoot "{t}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{t}/httpd-{port}.pid"
DefaultRuntimeDir "{t}"
ErrorLog "{t}/httpd-error.log"
LogLevel warn
DocumentRoot "{t}/htdocs"
KeepAlive On
MaxKeepAliveRequests 0
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule mime_module {MODULES}/mod_mime.so
LoadModule memcache_module "{self.module}"
TypesConfig /etc/mime.types
User nobody
Group nogroup
{mpm}
MemcacheServer 127.0.0.1:{self.mc_port} max=32
<Location /bench>
    SetHandler memcache-pass
</Location>
"""
        path = os.path.join(t, f"httpd-{port}.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def nginx_conf(self, port, one_process):
        t = self.tmp
        conf = f"""daemon off;
master_process {'off' if one_process else 'on'};
worker_processes 1;
pid {t}/nginx-{port}.pid;
error_log {t}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {t}/nginx-body;
  proxy_temp_path {t}/nginx-proxy;
  fastcgi_temp_path {t}/nginx-fastcgi;
  uwsgi_temp_path {t}/nginx-uwsgi;
  scgi_temp_path {t}/nginx-scgi;
  keepalive_requests 1000000;
  upstream mc {{ server 127.0.0.1:{self.mc_port}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{port};
    location /bench {{
      set $memcached_key "$uri?$args";
      memcached_pass mc;
      default_type text/html;
    }}
    location /static {{
      root {t}/htdocs;
      default_type text/html;
    }}
  }}
}}
"""
        path = os.path.join(t, f"nginx-{port}.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def start(self, kind, launcher=(), one_process=False):
        port = free_port()
        if kind.startswith("nginx"):
            conf = self.nginx_conf(port, one_process)
            argv = list(launcher) + ["/usr/sbin/nginx", "-p", self.tmp, "-c", conf,
                                     "-e", os.path.join(self.tmp, "nginx-error.log")]
        else:
            conf = self.httpd_conf(port, one_process)
            argv = list(launcher) + ["/usr/sbin/apache2", "-d", self.tmp, "-f", conf,
                                     "-DFOREGROUND"] + (["-X"] if one_process else [])
        proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(self.tmp, f"{kind}-{port}.err"), "w"))
        self.procs.append(proc)
        wait_port(port, proc, 60 if launcher else 20)
        path = {"nginx": "/bench/page.html", "memcache-pass": "/bench/page.html",
                "static": "/static/page.html", "nginx-static": "/static/page.html"}[kind]
        status, body = http_get(port, path)
        if status != 200 or body != self.page:
            raise RuntimeError(f"{kind}: {status}, {len(body)} bytes instead of the page")
        return proc, port, path

    def close(self):
        for p in reversed(self.procs):
            stop(p)


KINDS = ["memcache-pass", "static", "nginx", "nginx-static"]


def callgrind(servers, kind, seconds_pair):
    totals, requests = [], []
    for seconds in seconds_pair:
        out = os.path.join(servers.tmp, f"callgrind.{kind}.{seconds}")
        # A server that does not end in time under valgrind leaves no totals: one more
        # try before giving up.
        for attempt in range(2):
            # The server switches to nobody before callgrind writes the file at exit: it
            # is created here, writable for that user.
            open(out, "w").close()
            os.chmod(out, 0o666)
            proc, port, path = servers.start(kind, ["valgrind", "--tool=callgrind", "--vgdb=no",
                                                    f"--callgrind-out-file={out}"], one_process=True)
            n, _ = wrk(port, path, seconds, 1, 1)
            # nginx without a master ends on SIGQUIT (graceful) too; httpd -X on SIGTERM.
            stop(proc, signal.SIGQUIT if kind.startswith("nginx") else signal.SIGTERM, 60)
            with open(out) as f:
                total = [int(l.split()[1]) for l in f if l.startswith(("totals:", "summary:"))]
            if total:
                break
        if not total:
            raise RuntimeError(f"{kind}: no callgrind totals in {out}")
        totals.append(total[0])
        requests.append(n + 1)  # and the check
    per_request = (totals[1] - totals[0]) / (requests[1] - requests[0])
    handler = None
    if kind == "memcache-pass" and shutil.which("callgrind_annotate"):
        # Only requests run the handler: its inclusive cost over the longer run's
        # requests is its share of a request (the get and the response's filters).
        a = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                           capture_output=True, text=True).stdout
        costs = [int(m.group(1).replace(",", "")) for m in
                 re.finditer(r"^\s*([\d,]+) .*[:(]pass_handler\b", a, re.M)]
        if costs:
            handler = max(costs) / requests[1]
    return per_request, handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--no-callgrind", action="store_true")
    args = ap.parse_args()
    for tool in ["wrk", "memcached", "/usr/sbin/nginx", "/usr/sbin/apache2"] + \
            ([] if args.no_callgrind else ["valgrind"]):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: scripts/install-deps.sh nginx valgrind wrk")
    tmp = tempfile.mkdtemp(prefix="mmc-bench-pass-")
    servers = Servers(args.build, tmp)
    try:
        print(f"load average before: {open('/proc/loadavg').read().split()[:3]}")
        rps = {k: [] for k in KINDS}
        running = {k: servers.start(k) for k in KINDS}
        for k in KINDS:  # warm-up
            wrk(running[k][1], running[k][2], 1, args.connections, 2)
        for _ in range(args.reps):
            for k in KINDS:
                rps[k].append(wrk(running[k][1], running[k][2], args.seconds,
                                  args.connections, 2)[1])
        for k in KINDS:
            stop(running[k][0], signal.SIGQUIT if k.startswith("nginx") else signal.SIGTERM)
        instr = {}
        if not args.no_callgrind:
            for k in KINDS:
                instr[k] = callgrind(servers, k, (2, 6))
        print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
        print(f"\n{PAGE_SIZE}-byte page, wrk -t2 -c{args.connections} -d{args.seconds}s, "
              f"{args.reps} interleaved rounds (median, min-max)")
        print("| server | requests/s | min | max | instructions/request |")
        print("|---|--:|--:|--:|--:|")
        for k in KINDS:
            ins = f"{instr[k][0]:,.0f}" if k in instr else "-"
            print(f"| {k} | {statistics.median(rps[k]):,.0f} | {min(rps[k]):,.0f} | "
                  f"{max(rps[k]):,.0f} | {ins} |")
        if instr.get("memcache-pass", (0, None))[1]:
            print(f"\nof which the memcache-pass handler (inclusive: key, get, response "
                  f"through the filters): {instr['memcache-pass'][1]:,.0f}")
    finally:
        servers.close()
        if not os.environ.get("MMC_KEEP_TEST_DIRS"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
