// Credits: the balance and billing mode, the ledger (newest first, or as a CSV),
// and grants, top-ups and billing changes (platform admins only).
import { get, getText, post, put, tenantPath } from "../api.js";
import { offers } from "../capabilities.js";
import { action, errorSlot, facts, field, fmt, h, onSubmit, optionalNumber, section, table, text, download } from "../dom.js";
import { can } from "../roles.js";

const KIND = { grant: "Grant", adjustment: "Adjustment", charge: "Charge", usage: "Usage" };

export async function creditsView(root, { tenantId, tenantName }) {
  const path = tenantPath(tenantId, "credits");
  const canWrite = can(tenantId, "credits", "write");
  const summary = h("div");
  const ledger = h("div");
  const errors = errorSlot();
  let entries = [];
  let cursor = null;

  const drawLedger = () => {
    ledger.replaceChildren(
      table("Ledger", [
        { label: "When", cell: (e) => fmt.date(e.created_at) },
        { label: "Kind", cell: (e) => KIND[e.kind] ?? e.kind },
        { label: "Amount", cell: (e) => fmt.usd(e.amount_usd), num: true },
        { label: "Note", cell: (e) => e.note || (e.model_call_id ? h("a", { href: `#/t/${encodeURIComponent(tenantId)}/calls/${encodeURIComponent(e.model_call_id)}` }, "call") : "—") },
      ], entries, "The ledger is empty.", canWrite ? "Grant credit below to start it." : "Entries appear when credit is granted or calls are charged."),
      cursor ? h("button", { type: "button", class: "secondary", onclick: () => load(true) }, "Load more") : "",
    );
  };
  const load = async (more) => {
    const query = new URLSearchParams({ limit: "50" });
    if (more && cursor) query.set("cursor", cursor);
    const page = await get(`${path}?${query}`);
    entries = more ? entries.concat(page.entries) : page.entries;
    cursor = page.next_cursor ?? null;
    summary.replaceChildren(facts([
      ["Balance", h("strong", { class: "big" }, fmt.usd(page.balance_usd))],
      ["Billing", page.billing ?? "—"],
      page.billing === "postpaid" ? ["Credit limit", page.credit_limit_usd == null ? "none" : fmt.usd(page.credit_limit_usd)] : null,
    ]));
    drawLedger();
  };

  root.append(h("h1", null, "Credits"), summary, errors);
  if (offers("GET", "/tenants/{tenant_id}/credits/ledger.csv")) {
    root.append(h("div", { class: "toolbar" }, action("Export ledger CSV", errors, async () => {
      const { text: csv, filename } = await getText(`${path}/ledger.csv`);
      download(filename || `ledger-${tenantName}.csv`, csv);
    })));
  }
  root.append(h("h2", null, "Ledger"), ledger);

  if (canWrite) {
    const grantErrors = errorSlot();
    const grant = h("form", { class: "card", "aria-labelledby": "grant-credit" },
      h("h2", { id: "grant-credit" }, "Grant credit"),
      h("div", { class: "grid" },
        field("Amount (USD)", { name: "amount_usd", type: "number", step: "0.01", required: true, hint: "A negative adjustment takes credit back." }),
        field("Kind", { name: "kind", value: "grant" }, [["grant", "Grant / top-up"], ["adjustment", "Adjustment"]]),
        field("Note", { name: "note", placeholder: "invoice 42" })),
      grantErrors,
      h("button", { type: "submit" }, "Grant credit"));
    onSubmit(grant, grantErrors, async (data) => {
      await post(`${path}/grants`, { amount_usd: Number(data.get("amount_usd")), kind: data.get("kind"), note: text(data, "note") });
      grant.reset();
      await load(false);
    });
    const billingErrors = errorSlot();
    const billing = h("form", { class: "card", "aria-labelledby": "billing" },
      h("h2", { id: "billing" }, "Billing mode"),
      h("div", { class: "grid" },
        field("Billing", { name: "billing" }, [["prepaid", "Prepaid: calls draw on the balance"], ["postpaid", "Postpaid: billed afterwards"]]),
        field("Credit limit (USD, postpaid)", { name: "credit_limit_usd", type: "number", min: 0, step: "0.01", hint: "Empty: no limit." })),
      billingErrors,
      h("button", { type: "submit" }, "Save billing"));
    onSubmit(billing, billingErrors, async (data) => {
      const body = { billing: data.get("billing") };
      const limit = optionalNumber(data, "credit_limit_usd");
      if (limit !== undefined) body.credit_limit_usd = limit;
      await put(`${path}/billing`, body);
      await load(false);
    });
    root.append(grant, billing);
  } else {
    root.append(h("p", { class: "muted" }, "Credit is granted by the platform's administrators."));
  }
  await section(summary, async () => {
    try {
      await load(false);
    } catch (error) {
      ledger.replaceChildren();
      throw error;
    }
  }, "Credits");
}
