import http from "node:http";

/**
 * The upstream every gateway variant forwards to (node:http on 127.0.0.1): a small JSON answer, a 1 MiB JSON
 * body, and a short server-sent event stream whose first event is written at once.
 */

const small = Buffer.from(JSON.stringify({ object: "list", data: [{ id: "item_1", name: "bench" }], has_more: false }));
const row = '{"id":"item_000000","object":"item","description":"lorem ipsum dolor sit amet, bench payload"},';
const big = Buffer.alloc(1 << 20, row);
big.write("[", 0);
big.write("]", big.length - 1);

const server = http.createServer((req, res) => {
  req.resume();
  const path = (req.url ?? "").split("?")[0];
  if (path === "/v1/big") {
    res.writeHead(200, { "content-type": "application/json", "content-length": big.length });
    res.end(big);
  } else if (path === "/v1/sse") {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write("event: message\ndata: first\n\n");
    let n = 0;
    const t = setInterval(() => {
      n += 1;
      res.write(`data: ${n}\n\n`);
      if (n === 5) {
        clearInterval(t);
        res.end();
      }
    }, 2);
    res.on("close", () => clearInterval(t));
  } else {
    res.writeHead(200, { "content-type": "application/json", "content-length": small.length });
    res.end(small);
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  console.log(`READY ${JSON.stringify({ port: server.address().port })}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
