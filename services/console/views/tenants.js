// Pick the tenant to work in.
import { h } from "../dom.js";

export async function tenantsView(root, { tenants }) {
  root.append(h("h1", null, "Your tenants"));
  if (!tenants.size) {
    root.append(h("p", { class: "empty" }, "You are not a member of any tenant yet. Ask an owner to invite you."));
    return;
  }
  root.append(
    h("ul", { class: "tenant-list" }, [...tenants].map(([id, name]) =>
      h("li", null, h("a", { class: "card", href: `#/t/${encodeURIComponent(id)}/tokens` }, h("strong", null, name), h("span", { class: "muted" }, id))),
    )),
  );
}
