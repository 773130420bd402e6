-- Fire due schedules (scheduler instances): runs started and when the next is due.
SELECT fired, next_due FROM trellis.fire_due_schedules($1)
