-- The regulations in each language of the web app. A version is one set of rules; its texts are
-- translations of it, so accepting a version accepts it in whichever language it was read.
CREATE TABLE terms_texts (
    version  text NOT NULL REFERENCES terms,
    language text NOT NULL CHECK (language IN ('pl', 'en', 'uk', 'ru')),
    title    text NOT NULL,
    body     text NOT NULL,
    PRIMARY KEY (version, language)
);

-- Every version published so far was written in English.
INSERT INTO terms_texts (version, language, title, body)
SELECT version, 'en', title, body FROM terms;
UPDATE terms_texts SET title = 'e-BOK regulations' WHERE version = '2026-01' AND language = 'en';

INSERT INTO terms_texts (version, language, title, body) VALUES (
    '2026-01',
    'pl',
    'Regulamin e-BOK',
    E'1. e-BOK jest internetowym biurem obsługi klienta przedsiębiorstwa wodociągowo-kanalizacyjnego.\n'
    '2. Konto jest dostępne dla klienta mającego umowę o zaopatrzenie w wodę lub odprowadzanie '
    'ścieków, który potwierdza ją numerem i kwotą brutto jednej ze swoich faktur.\n'
    '3. Klient zachowuje login i hasło w tajemnicy oraz zmienia hasło jednorazowe przy pierwszym '
    'logowaniu.\n'
    '4. Przedsiębiorstwo przetwarza dane osobowe w celu świadczenia usług e-BOK, zgodnie ze swoją '
    'informacją o ochronie danych osobowych.\n'
    '5. Klient może w każdej chwili zamknąć konto; nie wpływa to na umowę.'
), (
    '2026-01',
    'uk',
    'Регламент e-BOK',
    E'1. e-BOK — це інтернет-офіс обслуговування клієнтів підприємства водопостачання та водовідведення.\n'
    '2. Обліковий запис доступний клієнту, який має договір на постачання води та/або '
    'водовідведення і підтверджує його номером та сумою брутто одного зі своїх рахунків.\n'
    '3. Клієнт зберігає логін і пароль у таємниці та змінює одноразовий пароль під час першого '
    'входу.\n'
    '4. Підприємство обробляє персональні дані для надання послуг e-BOK, як описано в його '
    'повідомленні про конфіденційність.\n'
    '5. Клієнт може будь-коли закрити обліковий запис; це не впливає на договір.'
), (
    '2026-01',
    'ru',
    'Регламент e-BOK',
    E'1. e-BOK — это интернет-офис обслуживания клиентов предприятия водоснабжения и водоотведения.\n'
    '2. Учётная запись доступна клиенту, имеющему договор на водоснабжение и/или водоотведение, '
    'который подтверждает его номером и суммой брутто одного из своих счетов.\n'
    '3. Клиент хранит логин и пароль в тайне и меняет одноразовый пароль при первом входе.\n'
    '4. Предприятие обрабатывает персональные данные для оказания услуг e-BOK, как описано в его '
    'уведомлении о конфиденциальности.\n'
    '5. Клиент может в любое время закрыть учётную запись; это не влияет на договор.'
);

ALTER TABLE terms DROP COLUMN title, DROP COLUMN body;
