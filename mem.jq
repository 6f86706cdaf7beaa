def when: reduce range(30) as $i ("x"; . + .) | length;
