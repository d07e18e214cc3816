"""Keep Trial.search_vector current in the database itself.

A trigger, rather than Python, because every writer must keep it right: the importer's bulk
inserts and updates, and staff editing the plain-language title or summary in the admin.
Weights: A titles and conditions (as registered and MeSH), B broader MeSH terms, keywords and
interventions, C summaries and description, D eligibility text.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION trials_trial_search_vector() RETURNS trigger AS $$
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector('english', concat_ws(' ',
      NEW.plain_title, NEW.brief_title, NEW.official_title, NEW.acronym,
      array_to_string(NEW.conditions, ' '), array_to_string(NEW.condition_meshes, ' ')
    )), 'A') ||
    setweight(to_tsvector('english', concat_ws(' ',
      array_to_string(NEW.condition_ancestors, ' '), array_to_string(NEW.keywords, ' '),
      array_to_string(NEW.intervention_meshes, ' '),
      (SELECT string_agg(concat_ws(' ', i->>'name',
                (SELECT string_agg(o, ' ')
                   FROM jsonb_array_elements_text(coalesce(i->'other_names', '[]'::jsonb)) o)), ' ')
         FROM jsonb_array_elements(coalesce(NEW.interventions, '[]'::jsonb)) i)
    )), 'B') ||
    setweight(to_tsvector('english', concat_ws(' ',
      NEW.plain_summary, NEW.brief_summary, NEW.detailed_description
    )), 'C') ||
    setweight(to_tsvector('english', coalesce(NEW.eligibility_criteria, '')), 'D');
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER trials_trial_search_vector_trg
BEFORE INSERT OR UPDATE OF plain_title, brief_title, official_title, acronym, conditions,
  condition_meshes, condition_ancestors, keywords, intervention_meshes, interventions,
  plain_summary, brief_summary, detailed_description, eligibility_criteria
ON trials_trial FOR EACH ROW EXECUTE FUNCTION trials_trial_search_vector();
"""

REVERSE = """
DROP TRIGGER IF EXISTS trials_trial_search_vector_trg ON trials_trial;
DROP FUNCTION IF EXISTS trials_trial_search_vector();
"""


class Migration(migrations.Migration):
    dependencies = [("trials", "0001_initial")]

    operations = [migrations.RunSQL(FUNCTION, REVERSE)]
