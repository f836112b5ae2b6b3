// A table over a keyset-paged list endpoint, with a "Load more" button.
import { get } from "../api.js";
import { h, table } from "../dom.js";

/** Fill `container` with the first page of `path` (which has no query string yet). */
export async function pagedTable(container, path, { caption, columns, empty, limit = 50 }) {
  const rows = [];
  let cursor = null;
  const load = async () => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    const page = await get(`${path}?${query}`);
    rows.push(...page.items);
    cursor = page.next_cursor;
    const more = cursor
      ? h("button", { type: "button", class: "secondary", onclick: (e) => { e.target.disabled = true; load(); } }, "Load more")
      : null;
    container.replaceChildren(table(caption, columns, rows, empty), more ?? "");
  };
  await load();
}
