-- Cases (issue 13): the tables come with the cases' capability.
SELECT 1;
