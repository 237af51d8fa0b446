// Preloaded into a Node process (node --require): appends one JSON line per outgoing TCP connection attempt
// (host, port, or a Unix socket path) to the file named by CONNECTIONS_LOG. Every client in Node, http and
// https and tls included, connects through net.Socket.prototype.connect.
"use strict";
const fs = require("fs");
const net = require("net");

const log = process.env.CONNECTIONS_LOG;
const connect = net.Socket.prototype.connect;

net.Socket.prototype.connect = function (...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0];
  if (typeof options !== "object" || options === null) {
    options = typeof options === "string" ? { path: options } : { port: options, host: args[1] };
  }
  const entry = { host: options.host ?? null, port: options.port ?? null, path: options.path ?? null };
  fs.appendFileSync(log, JSON.stringify(entry) + "\n");
  return connect.apply(this, args);
};
