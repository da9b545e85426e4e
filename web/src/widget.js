// SecondLook web chat: a small, dependency-free UI over socket.io-client.
//
// Every text from the user or the bot is put into the page with textContent (links are built as
// elements), never as HTML. The conversation id and the rendered messages are kept in localStorage
// (or sessionStorage, or nowhere: the `storage` option) so a reload shows the same conversation.
// "Start over" offers a new conversation: a new server-issued id, the stored copy removed, so the next
// person at this device can't resume it. When the bot confirms "delete my data" (an `erase_client`
// message), the stored copy, the screen and the id go the same way.
//
// Use: <div id="secondlook-chat"></div>
//      <script src="https://bot.example.org/chat/secondlook-chat.js"
//              data-title="SecondLook" data-locale="en-US" defer></script>
// or, from code: window.SecondLookChat.mount(element, { serverUrl, title, locale }).

import { io } from "socket.io-client";

const STORAGE_VERSION = 1;
const MAX_STORED_MESSAGES = 150;
const MAX_INPUT_CHARS = 1000;
const TYPING_TIMEOUT_MS = 30000;
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
// Where the bot's server offers downloads: the summary (channels/preparation.py) and the copy of
// what it keeps about the user (channels/privacy.py).
const DOWNLOAD_PATHS = ["/chat/summary/", "/chat/my-data/"];

const STRINGS = {
  chatLabel: (title) => `${title} chat`,
  menu: "Menu",
  startOver: "Start over",
  whatIsStored: "What do you store about me?",
  deleteData: "Delete my data",
  progressLabel: "Your second-opinion journey",
  progressSummary: (done, total) => `${done} of ${total} steps done`,
  nowOn: (title) => `Now: ${title}`,
  nextUp: (title) => `Next: ${title}`,
  statusDone: "done",
  statusCurrent: "you are here",
  statusNext: "next",
  statusTodo: "to do",
  conversation: "Conversation",
  you: "You",
  typing: (title) => `${title} is typing…`,
  messageLabel: "Your message",
  placeholder: "Type your message…",
  send: "Send",
  connecting: "Connecting…",
  connected: "Connected",
  offline: "Offline: reconnecting…",
  refused: "The chat server refused the connection.",
  repliesLabel: "Suggested replies",
  startOverOffer:
    "Start a new conversation? This one, and your progress in it, can no longer be opened from this " +
    "device, so whoever uses it next won't see it. What the bot keeps of it is deleted when it expires; " +
    "to delete it now, choose “Delete my data” instead.",
  startOverYes: "Start a new conversation",
  startOverNo: "Keep this one",
  erasedHere: "Cleared from this device too. A new conversation starts when you write.",
  closedElsewhere: "This conversation was closed in another window of this site. Write to start a new one.",
};

const STORAGE_AREAS = { local: "localStorage", session: "sessionStorage" };

// ---------------------------------------------------------------------------------------------
// Small DOM helpers: elements are made with text only.

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function visuallyHidden(text) {
  return el("span", { className: "sl-visually-hidden", text });
}

/** Text with http(s) links made clickable: a fragment of text nodes and <a> elements. */
export function linkify(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    if (match.index > last) fragment.append(document.createTextNode(text.slice(last, match.index)));
    const link = el("a", { href: match[0], target: "_blank", rel: "noopener noreferrer nofollow", text: match[0] });
    fragment.append(link);
    last = match.index + match[0].length;
  }
  if (last < text.length) fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}

function newId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------------------------------------
// Local history: the conversation id, the rendered messages (capped) and the last progress.

class History {
  constructor(key, storage) {
    this.key = key;
    this.area = storage; // "local" | "session" | "none"
    this.state = this.load();
  }

  /** The Storage object in use, or null ("none", or blocked by the browser). */
  storage() {
    try {
      return STORAGE_AREAS[this.area] ? window[STORAGE_AREAS[this.area]] : null;
    } catch (error) {
      return null;
    }
  }

  static empty() {
    return { version: STORAGE_VERSION, sessionId: null, messages: [], progress: null };
  }

  load() {
    try {
      const storage = this.storage();
      const stored = storage && JSON.parse(storage.getItem(this.key) || "null");
      if (stored && stored.version === STORAGE_VERSION && Array.isArray(stored.messages)) return stored;
    } catch (error) {
      // unreadable or blocked storage: start afresh
    }
    return History.empty();
  }

  save() {
    this.state.messages = this.state.messages.slice(-MAX_STORED_MESSAGES);
    try {
      const storage = this.storage();
      if (storage) storage.setItem(this.key, JSON.stringify(this.state));
    } catch (error) {
      // storage full or blocked: the chat still works, it just won't survive a reload
    }
  }

  /** Forgets everything, the conversation id included, and (unless `storedToo` is false) the stored copy. */
  forget({ storedToo = true } = {}) {
    const sessionId = this.state.sessionId;
    this.state = History.empty();
    if (!storedToo) return;
    try {
      const storage = this.storage();
      const stored = storage && JSON.parse(storage.getItem(this.key) || "null");
      // Another tab may already keep its own new conversation there: that one is not ours to remove.
      if (stored && (!stored.sessionId || stored.sessionId === sessionId)) storage.removeItem(this.key);
    } catch (error) {
      // blocked or unreadable storage: nothing of ours to remove
    }
  }
}

// ---------------------------------------------------------------------------------------------

class ChatWidget {
  constructor(container, options) {
    this.container = container;
    this.options = options;
    this.strings = { ...STRINGS, ...(options.strings || {}) };
    this.history = new History(`secondlook-chat:${options.serverUrl}`, options.storage);
    this.timeFormat = new Intl.DateTimeFormat(options.locale || undefined, { hour: "2-digit", minute: "2-digit" });
    this.typingTimer = null;
    this.sessionReady = false;
    this.pending = []; // messages typed before the session was confirmed
    this.greetNewSession = true; // false after an erasure: the bot's closing words are the last ones
    this.build();
    this.restore();
    this.connect();
  }

  // --- layout ----------------------------------------------------------------------------------

  build() {
    const s = this.strings;
    const title = this.options.title;
    const uid = `sl-${Math.random().toString(36).slice(2, 8)}`;

    this.status = el("span", { className: "sl-status", role: "status", text: s.connecting });
    this.menuButton = el("button", {
      type: "button",
      className: "sl-menu-button",
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-controls": `${uid}-menu`,
      text: s.menu,
    });
    this.menuItems = [
      ["start-over", s.startOver, () => this.startOver()],
      ["my-data", s.whatIsStored, () => this.send("/request_my_data", s.whatIsStored)],
      ["delete-data", s.deleteData, () => this.send("/forget_me", s.deleteData)],
    ].map(([action, label, run]) => {
      const item = el("button", { type: "button", role: "menuitem", tabindex: "-1", "data-action": action, text: label });
      item.addEventListener("click", () => {
        this.closeMenu(false);
        run();
      });
      return item;
    });
    this.menu = el("div", { className: "sl-menu", role: "menu", id: `${uid}-menu`, "aria-label": s.menu, hidden: true });
    this.menu.append(...this.menuItems);

    const header = el(
      "header",
      { className: "sl-header" },
      el("div", { className: "sl-heading" }, el("h2", { className: "sl-title", id: `${uid}-title`, text: title }), this.status),
      el("div", { className: "sl-menu-wrap" }, this.menuButton, this.menu),
    );

    this.stepList = el("ol", { className: "sl-steps" });
    this.progressSummary = el("p", { className: "sl-progress-summary" });
    this.progress = el(
      "nav",
      { className: "sl-progress", "aria-label": s.progressLabel, hidden: true },
      this.stepList,
      this.progressSummary,
    );

    this.log = el("div", {
      className: "sl-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": s.conversation,
      tabindex: "0",
    });
    this.typing = el(
      "div",
      { className: "sl-typing", hidden: true },
      el("span", { className: "sl-dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
      el("span", { className: "sl-typing-text", text: s.typing(title) }),
    );

    this.input = el("textarea", {
      id: `${uid}-input`,
      className: "sl-input",
      rows: "1",
      maxlength: String(MAX_INPUT_CHARS),
      placeholder: s.placeholder,
      autocomplete: "off",
      enterkeyhint: "send",
    });
    this.sendButton = el("button", { type: "submit", className: "sl-send", text: s.send });
    this.form = el(
      "form",
      { className: "sl-form" },
      el("label", { className: "sl-visually-hidden", for: `${uid}-input`, text: s.messageLabel }),
      this.input,
      this.sendButton,
    );

    this.root = el(
      "section",
      { className: "sl-chat", "aria-labelledby": `${uid}-title`, lang: this.options.locale || null },
      header,
      this.progress,
      this.log,
      this.typing,
      this.form,
    );
    this.container.classList.add("sl-host");
    this.container.replaceChildren(this.root);
    this.bindEvents();
  }

  bindEvents() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      this.input.value = "";
      this.send(text, text);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.menuButton.addEventListener("click", () => (this.menu.hidden ? this.openMenu() : this.closeMenu(true)));
    this.menuButton.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        this.openMenu(event.key === "ArrowUp" ? this.menuItems.length - 1 : 0);
      }
    });
    this.menu.addEventListener("keydown", (event) => this.onMenuKey(event));
    this.menu.addEventListener("focusout", (event) => {
      if (!this.root.querySelector(".sl-menu-wrap").contains(event.relatedTarget)) this.closeMenu(false);
    });
    window.addEventListener("storage", (event) => this.onStorage(event));
  }

  // --- menu (WAI-ARIA menu button pattern) -----------------------------------------------------

  openMenu(index = 0) {
    this.menu.hidden = false;
    this.menuButton.setAttribute("aria-expanded", "true");
    this.menuItems[index].focus();
  }

  closeMenu(returnFocus) {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.menuButton.setAttribute("aria-expanded", "false");
    if (returnFocus) this.menuButton.focus();
  }

  onMenuKey(event) {
    const current = this.menuItems.indexOf(document.activeElement);
    const count = this.menuItems.length;
    const moves = { ArrowDown: current + 1, ArrowUp: current - 1 + count, Home: 0, End: count - 1 };
    if (event.key in moves) {
      event.preventDefault();
      this.menuItems[moves[event.key] % count].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.closeMenu(true);
    } else if (event.key === "Tab") {
      this.closeMenu(false);
    }
  }

  // --- connection ------------------------------------------------------------------------------

  connect() {
    const { serverUrl, socketPath, token } = this.options;
    this.socket = io(serverUrl, {
      path: socketPath,
      transports: ["websocket", "polling"],
      auth: token ? { token } : undefined,
    });
    this.socket.on("connect", () => {
      this.setStatus(this.strings.connected);
      this.socket.emit("session_request", { session_id: this.history.state.sessionId });
    });
    this.socket.on("session_confirm", (sessionId) => {
      this.history.state.sessionId = sessionId;
      this.history.save();
      this.sessionReady = true;
      // Nothing shown yet (a new conversation, or the opening never arrived): ask the bot to open it.
      const pending = this.pending;
      const greet = this.greetNewSession && this.options.initPayload;
      this.greetNewSession = true;
      if (this.history.state.messages.length === 0 && pending.length === 0 && greet) {
        this.emitMessage(this.options.initPayload);
      }
      for (const text of pending) this.emitMessage(text);
      this.pending = [];
    });
    this.socket.on(this.options.botEvent, (message) => this.receive(message));
    this.socket.on("disconnect", () => {
      this.sessionReady = false;
      this.setStatus(this.strings.offline);
    });
    this.socket.on("connect_error", () => {
      this.setStatus(this.socket.active ? this.strings.offline : this.strings.refused);
    });
  }

  setStatus(text) {
    this.status.textContent = text;
    this.root.dataset.connection = this.socket && this.socket.connected ? "online" : "offline";
  }

  emitMessage(text) {
    this.socket.emit(this.options.userEvent, {
      message: text,
      session_id: this.history.state.sessionId,
      metadata: { locale: this.options.locale },
    });
    this.showTyping();
  }

  /** Sends `payload` to the bot and shows `shown` as the user's bubble. */
  send(payload, shown) {
    if (this.dormant) this.wake();
    this.clearQuickReplies();
    this.addMessage({ from: "user", text: shown, ts: Date.now() });
    if (this.sessionReady) this.emitMessage(payload);
    else this.pending.push(payload);
    this.input.focus();
  }

  /** Offers a new conversation (in the log, not a modal dialog); nothing is cleared until it is taken. */
  startOver() {
    if (this.offer) this.offer.remove();
    const s = this.strings;
    const yes = el("button", { type: "button", className: "sl-reply", text: s.startOverYes });
    const no = el("button", { type: "button", className: "sl-reply", text: s.startOverNo });
    this.offer = el(
      "div",
      { className: "sl-offer", role: "group", "aria-label": s.startOver },
      el("p", { className: "sl-text", text: s.startOverOffer }),
      el("div", { className: "sl-offer-actions" }, yes, no),
    );
    yes.addEventListener("click", () => {
      this.freshSession();
      this.reconnect();
      this.input.focus();
    });
    no.addEventListener("click", () => {
      this.offer.remove();
      this.offer = null;
      this.input.focus();
    });
    this.log.append(this.offer);
    this.scrollToEnd();
    yes.focus();
  }

  /** Drops this device's copy of the conversation (storage, screen, id); the next session is a new one. */
  freshSession({ storedToo = true } = {}) {
    this.history.forget({ storedToo });
    this.log.replaceChildren();
    this.offer = null;
    this.progress.hidden = true;
    this.stepList.replaceChildren();
    if (this.exportUrl) URL.revokeObjectURL(this.exportUrl);
    this.exportUrl = null;
    this.sessionReady = false;
    this.pending = [];
    this.hideTyping();
  }

  /** A new socket: it is in no room of the old conversation, and asks for a new session id. */
  reconnect() {
    this.socket.disconnect();
    this.socket.connect();
  }

  /** The bot erased everything: clear this device too, keep the bot's closing words, open a new session. */
  eraseHere() {
    this.freshSession();
    this.greetNewSession = false;
    this.log.append(el("p", { className: "sl-notice", role: "status", text: this.strings.erasedHere }));
    // The same socket: the closing words of this turn still arrive through the old session's room.
    this.socket.emit("session_request", { session_id: null });
  }

  /** Another tab of this site started over or erased: drop the copy shown here too, and wait. */
  onStorage(event) {
    if (event.key !== this.history.key || event.newValue !== null) return;
    if (event.storageArea !== this.history.storage()) return;
    let removed = null;
    try {
      removed = JSON.parse(event.oldValue || "null");
    } catch (error) {
      return;
    }
    const shown = this.history.state.sessionId;
    if (!shown || !removed || removed.sessionId !== shown) return; // not the conversation shown here
    this.freshSession({ storedToo: false });
    this.socket.disconnect(); // out of the old conversation's room
    this.dormant = true;
    this.log.append(el("p", { className: "sl-notice", role: "status", text: this.strings.closedElsewhere }));
  }

  /** The first message after another tab closed the conversation: carry on in the session it left. */
  wake() {
    this.dormant = false;
    this.history.state = this.history.load();
    this.greetNewSession = false;
    this.socket.connect();
  }

  // --- incoming --------------------------------------------------------------------------------

  receive(message) {
    if (!message || typeof message !== "object") return;
    this.hideTyping();
    if (message.type === "journey_progress" && Array.isArray(message.steps)) {
      this.history.state.progress = message.steps;
      this.history.save();
      this.renderProgress(message.steps);
      return;
    }
    if (message.type === "erase_client") {
      this.eraseHere();
      return;
    }
    const downloads = message.type === "summary_download" || message.type === "data_export";
    if (downloads && Array.isArray(message.links)) {
      this.addDownloads(message.links);
      return;
    }
    const quickReplies = (message.quick_replies || message.buttons || [])
      .filter((reply) => reply && typeof reply.title === "string" && typeof reply.payload === "string")
      .map((reply) => ({ title: reply.title, payload: reply.payload }));
    let text = typeof message.text === "string" ? message.text : "";
    const attachment = message.attachment;
    if (!text && attachment && attachment.type === "image" && attachment.payload) {
      text = String(attachment.payload.src || "");
    }
    if (!text && quickReplies.length === 0) return;
    this.addMessage({ from: "bot", text, ts: Date.now(), quickReplies });
  }

  addMessage(message, { persist = true } = {}) {
    if (persist) {
      this.history.state.messages.push(message);
      this.history.save();
    }
    this.log.append(this.renderMessage(message));
    if (message.quickReplies && message.quickReplies.length) this.renderQuickReplies(message.quickReplies);
    this.scrollToEnd();
  }

  renderMessage({ from, text, ts }) {
    const who = from === "user" ? this.strings.you : this.options.title;
    const time = new Date(ts);
    return el(
      "div",
      { className: `sl-message sl-message--${from}` },
      el(
        "div",
        { className: "sl-bubble" },
        visuallyHidden(`${who}: `),
        el("p", { className: "sl-text" }, linkify(text)),
      ),
      el("time", { className: "sl-time", datetime: time.toISOString(), text: this.timeFormat.format(time) }),
    );
  }

  renderQuickReplies(replies) {
    this.clearQuickReplies();
    const group = el("div", { className: "sl-replies", role: "group", "aria-label": this.strings.repliesLabel });
    for (const reply of replies) {
      const button = el("button", { type: "button", className: "sl-reply", text: reply.title });
      button.addEventListener("click", () => this.send(reply.payload, reply.title));
      group.append(button);
    }
    this.log.append(group);
  }

  clearQuickReplies() {
    for (const group of this.log.querySelectorAll(".sl-replies")) group.remove();
  }

  // The summary to take along and the copy of the user's data: signed links on the bot's own server
  // (never another address), shown as download buttons; not kept in the history, as the links expire.
  addDownloads(links) {
    const ours = (path) => DOWNLOAD_PATHS.some((prefix) => path.startsWith(prefix));
    const anchors = links
      .filter((link) => link && typeof link.path === "string" && ours(link.path))
      .map((link) => {
        const href = new URL(link.path, `${this.options.serverUrl}/`).href;
        const label = typeof link.label === "string" ? link.label : link.format;
        return el("a", { className: "sl-download", href, download: "", rel: "noopener", text: label });
      });
    if (anchors.length === 0) return;
    const bubble = el(
      "div",
      { className: "sl-message sl-message--bot sl-message--downloads" },
      el("div", { className: "sl-bubble" }, visuallyHidden(`${this.options.title}: `), el("p", { className: "sl-downloads" }, ...anchors)),
    );
    this.log.append(bubble);
    this.scrollToEnd();
  }

  renderProgress(steps) {
    const s = this.strings;
    const labels = { done: s.statusDone, current: s.statusCurrent, next: s.statusNext, todo: s.statusTodo };
    const items = steps.map((step) => {
      const status = labels[step.status] ? step.status : "todo";
      return el(
        "li",
        {
          className: `sl-step sl-step--${status}`,
          "data-step": step.id,
          "data-status": status,
          "aria-current": status === "current" ? "step" : null,
        },
        el("span", { className: "sl-step-marker", "aria-hidden": "true", text: status === "done" ? "✓" : String(step.number) }),
        el("span", { className: "sl-step-title", text: step.title }),
        visuallyHidden(`: ${labels[status]}`),
      );
    });
    this.stepList.replaceChildren(...items);
    const done = steps.filter((step) => step.status === "done").length;
    const current = steps.find((step) => step.status === "current");
    const next = steps.find((step) => step.status === "next");
    const summary = [s.progressSummary(done, steps.length)];
    if (current) summary.push(s.nowOn(current.title));
    else if (next) summary.push(s.nextUp(next.title));
    this.progressSummary.textContent = summary.join(" · ");
    this.progress.hidden = steps.length === 0;
  }

  restore() {
    const { messages, progress } = this.history.state;
    for (const message of messages) this.log.append(this.renderMessage(message));
    const last = messages[messages.length - 1];
    if (last && last.from === "bot" && last.quickReplies && last.quickReplies.length) {
      this.renderQuickReplies(last.quickReplies);
    }
    if (Array.isArray(progress)) this.renderProgress(progress);
    this.scrollToEnd();
  }

  // --- typing indicator ------------------------------------------------------------------------

  showTyping() {
    this.typing.hidden = false;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.hideTyping(), TYPING_TIMEOUT_MS);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.typing.hidden = true;
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}

// ---------------------------------------------------------------------------------------------
// Options and auto-mount from the <script> tag's data attributes.

function optionsFrom(script, overrides = {}) {
  const data = (script && script.dataset) || {};
  const scriptUrl = script && script.src ? new URL(script.src, document.baseURI) : new URL(document.baseURI);
  return {
    serverUrl: (overrides.serverUrl || data.serverUrl || scriptUrl.origin).replace(/\/+$/, ""),
    title: overrides.title || data.title || "SecondLook",
    locale: overrides.locale || data.locale || document.documentElement.lang || "en-US",
    socketPath: overrides.socketPath || data.socketPath || "/socket.io",
    token: overrides.token || data.token || null,
    initPayload: overrides.initPayload ?? data.initPayload ?? "/greet",
    userEvent: overrides.userEvent || data.userEvent || "user_uttered",
    botEvent: overrides.botEvent || data.botEvent || "bot_uttered",
    storage: storageOption(overrides.storage || data.storage),
    strings: overrides.strings,
    stylesheet: overrides.stylesheet ?? data.stylesheet ?? new URL("secondlook-chat.css", scriptUrl).href,
  };
}

/** Where the conversation is kept: "local" (default), "session" (until the tab closes) or "none". */
function storageOption(value) {
  return value === "session" || value === "none" ? value : "local";
}

function addStylesheet(href) {
  if (!href || href === "none") return;
  const already = Array.from(document.querySelectorAll('link[rel="stylesheet"]')).some((link) => link.href === href);
  if (!already) document.head.append(el("link", { rel: "stylesheet", href }));
}

const currentScript = document.currentScript;

function mount(container, overrides = {}) {
  const target = typeof container === "string" ? document.querySelector(container) : container;
  if (!target) throw new Error(`SecondLook chat: no container ${container}`);
  const options = optionsFrom(currentScript, overrides);
  addStylesheet(options.stylesheet);
  return new ChatWidget(target, options);
}

window.SecondLookChat = { mount };

if (currentScript && currentScript.dataset.autoMount !== "false") {
  const selector = currentScript.dataset.container || "#secondlook-chat";
  const start = () => {
    const target = document.querySelector(selector);
    if (target) window.SecondLookChat.instance = mount(target);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}
