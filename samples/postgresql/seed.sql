-- Written to the source cluster before the lift; tests/stack_postgres.rs reads it back from the
-- lifted container.
CREATE TABLE lifted (id serial PRIMARY KEY, note text NOT NULL);
INSERT INTO lifted (note) VALUES ('written-on-the-source');
-- Needs plpgsql.so, a module the server loads only on first use (not in the postmaster's maps).
CREATE FUNCTION shout(t text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN upper(t); END $$;
