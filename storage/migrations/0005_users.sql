-- Desk accounts (managed with `gps-admin users`): who may log in to the advisor desk, with which role.
-- storage.users reads and writes it; screenpop.models.User is the matching model (without the secret).

CREATE TABLE users (
    id                   bigserial PRIMARY KEY,
    login                text NOT NULL CHECK (login ~ '^[a-z][a-z0-9._-]{1,39}$'),
    name                 text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80 AND btrim(name) <> ''),
    role                 text NOT NULL CHECK (role IN ('advisor', 'supervisor', 'admin')),
    -- the advisor this account is (required for role advisor); one account per advisor at most
    advisor_id           bigint REFERENCES advisors (id) ON DELETE RESTRICT,
    -- argon2id PHC string only: never a clear-text password, never another algorithm
    password_hash        text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    active               boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    password_changed_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_login_key UNIQUE (login),
    CONSTRAINT users_advisor_id_key UNIQUE (advisor_id),  -- NULLs are distinct: many non-advisor accounts
    CONSTRAINT users_advisor_role_check CHECK (role <> 'advisor' OR advisor_id IS NOT NULL)
);
