// Pick the tenant to work in; platform admins also create tenants here, each with its first owner.
import { post } from "../api.js";
import { empty, errorSlot, field, h, onSubmit, text } from "../dom.js";
import { isPlatformAdmin, roleIn } from "../roles.js";

export async function tenantsView(root, { tenants, reload, go }) {
  root.append(h("h1", null, "Your tenants"));
  if (!tenants.size) {
    root.append(empty(
      "You are not a member of any tenant yet.",
      isPlatformAdmin() ? "Create the first tenant below." : "Ask an owner of a tenant to add you as a member.",
    ));
  } else {
    root.append(
      h("ul", { class: "tenant-list" }, [...tenants].map(([id, name]) =>
        h("li", null, h("a", { class: "card", href: `#/t/${encodeURIComponent(id)}` }, h("strong", null, name), h("span", { class: "muted" }, roleIn(id) ?? ""))),
      )),
    );
  }
  if (!isPlatformAdmin()) return;

  const errors = errorSlot();
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-tenant" },
    h("h2", { id: "create-tenant" }, "Create a tenant"),
    field("Tenant name", { name: "name", required: true, placeholder: "acme", hint: "Lowercase letters, digits and dashes." }),
    field("Owner email (optional)", { name: "owner_email", type: "email", hint: "An existing user, its first owner; empty: you." }),
    errors,
    h("button", { type: "submit" }, "Create tenant"),
  );
  onSubmit(form, errors, async (data) => {
    const body = { name: text(data, "name") };
    if (text(data, "owner_email")) body.owner_email = text(data, "owner_email");
    const tenant = await post("/tenants", body);
    await reload();
    go(`#/t/${encodeURIComponent(tenant.id)}/members`);
  });
  root.append(form);
}
