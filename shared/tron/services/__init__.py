"""Use cases: plan_day, tick, execute_order, square_off, end_of_day. They reach the world only through ports."""
