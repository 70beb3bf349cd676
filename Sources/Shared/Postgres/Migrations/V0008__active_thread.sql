-- The thread a user last switched to (PUT /api/threads/{id}/switch); cleared when the thread is deleted.
ALTER TABLE users ADD COLUMN active_thread_id uuid REFERENCES threads (id) ON DELETE SET NULL;
