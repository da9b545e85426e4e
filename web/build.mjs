// Builds web/dist/: the widget bundled with socket.io-client into one script, its stylesheet, and
// the stand-alone page served at /chat/. Run with `npm run build` after `npm ci`.
import { copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, "src");
const dist = join(root, "dist");

const socketio = JSON.parse(await readFile(join(root, "node_modules/socket.io-client/package.json"), "utf8"));
const banner =
  `/*! SecondLook web chat (MIT). Bundles socket.io-client ${socketio.version} and its engine.io-client, ` +
  "socket.io-parser, engine.io-parser and @socket.io/component-emitter dependencies (MIT, " +
  "https://github.com/socketio/socket.io). */";

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

await build({
  entryPoints: [join(src, "widget.js")],
  outfile: join(dist, "secondlook-chat.js"),
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  legalComments: "eof", // keeps socket.io-client's MIT notice in the bundle
  banner: { js: banner },
  logLevel: "warning",
});

const copies = [
  ["index.html", "index.html"],
  ["page.css", "page.css"],
  ["favicon.svg", "favicon.svg"],
  ["chat.css", "secondlook-chat.css"],
];
for (const [from, to] of copies) {
  await copyFile(join(src, from), join(dist, to));
}
console.log("web/dist built");
