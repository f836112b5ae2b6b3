// A table over a keyset-paged list endpoint, with a "Load more" button and an
// optional filter applied to the rows loaded so far.
import { get } from "../api.js";
import { h, table } from "../dom.js";

/**
 * Fill `container` with the first page of `path` (no query string yet).
 * Returns {rows, reload, refilter}; `filter(row)` hides rows, `map(items)` enriches a page.
 */
export function pagedTable(container, path, { caption, columns, empty, next, limit = 50, filter, map }) {
  let rows = [];
  let cursor = null;
  const draw = () => {
    const shown = filter ? rows.filter(filter) : rows;
    const more = cursor
      ? h("button", { type: "button", class: "secondary", onclick: (e) => { e.target.disabled = true; load().catch(() => { e.target.disabled = false; }); } }, "Load more")
      : null;
    const hidden = rows.length - shown.length;
    container.replaceChildren(...[
      table(caption, columns, shown, rows.length ? "No loaded row matches the filter." : empty, rows.length ? null : next),
      hidden > 0 ? h("p", { class: "muted" }, `${hidden} loaded row${hidden === 1 ? "" : "s"} hidden by the filter.`) : null,
      more,
    ].filter(Boolean));
  };
  const load = async () => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    const page = await get(`${path}${path.includes("?") ? "&" : "?"}${query}`);
    const items = map ? await map(page.items) : page.items;
    rows = rows.concat(items);
    cursor = page.next_cursor;
    draw();
  };
  const reload = async () => {
    rows = [];
    cursor = null;
    await load();
  };
  return { reload, refilter: draw, rows: () => rows };
}
