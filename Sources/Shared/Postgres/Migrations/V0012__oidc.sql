-- Single sign-on per tenant with an OpenID Connect issuer (Google or any other). The client secret is needed in clear
-- for the code exchange, so it is stored as given; the admin API never returns it.
CREATE TABLE tenant_oidc (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    issuer text NOT NULL,
    client_id text NOT NULL,
    client_secret text NOT NULL,
    -- Email domains whose people become members on their first sign-in; empty: only existing users sign in.
    allowed_domains text[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);
